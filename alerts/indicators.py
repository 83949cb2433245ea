"""Which rules an indicator names: a rule id, a measure key or a contract code. Pure."""

from __future__ import annotations

import datetime as dt

from rules.catalog import Catalog


def rules_for_indicator(catalog: Catalog, indicator: str, on: dt.date | None = None) -> list[str]:
    """A rule id, a measure key, or a contract code. Without `on`, a code matches in every
    suite (each rule's ratings only exist for periods its suite was in force, so history shows
    what the code meant at the time); with `on`, only in the suite in force that day."""
    token = indicator.strip()
    return [b.id for b in catalog.rules
            if token in (b.id, b.rule.measure_key)
            or (b.code and b.code.upper() == token.upper() and (on is None or b.pack.in_force(on)))]


def describe(catalog: Catalog, rule_id: str) -> dict:
    bound = catalog.rules_by_id.get(rule_id)
    return {"rule": rule_id, "indicator": bound.rule.measure_key if bound else None,
            "code": bound.code if bound else None, "suite": bound.suite if bound else None,
            "name": bound.rule.name if bound else rule_id}
