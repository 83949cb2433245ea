"""The loaded rule packs as one queryable catalogue: which measures exist, which contract
code means which indicator in which period, and which rules apply to a return."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from rules.model import Derived, Pack, Plausible, Rule, Unit
from rules.periods import period_start


@dataclass(frozen=True)
class MeasureInfo:
    key: str
    kind: str
    unit: Unit
    name: str
    plausible: Plausible | None = None


@dataclass(frozen=True)
class BoundRule:
    """A rule with the pack it came from (suite, provider scope, settings)."""

    pack: Pack
    rule: Rule

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def suite(self) -> str | None:
        return self.pack.suite

    @property
    def code(self) -> str | None:
        return self.rule.code if self.pack.suite else None

    @property
    def reminder_days(self) -> int:
        return self.rule.reminder_days or self.pack.settings.reminder_days


class Catalog:
    """Read-only view over validated packs. Built once per process (see rules.loader)."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs

    @cached_property
    def rules(self) -> list[BoundRule]:
        return [BoundRule(p, r) for p in self.packs for r in p.rules]

    @cached_property
    def rules_by_id(self) -> dict[str, BoundRule]:
        return {b.id: b for b in self.rules}

    @cached_property
    def measures(self) -> dict[str, MeasureInfo]:
        out: dict[str, MeasureInfo] = {}
        for pack in self.packs:
            for inp in pack.inputs:
                out[inp.key] = MeasureInfo(inp.key, inp.kind, inp.unit, inp.name, inp.plausible)
            for d in pack.derived:
                out[d.key] = MeasureInfo(d.key, d.kind, d.unit, d.name)
            for rule in pack.rules:
                if rule.rated_by == "calendar":  # not a measure: nothing a return may carry
                    continue
                info = MeasureInfo(rule.measure_key, rule.kind, rule.unit, rule.name, rule.plausible)
                if rule.id == rule.measure_key:  # the rule named after the measure names it
                    out[rule.measure_key] = info
                else:
                    out.setdefault(rule.measure_key, info)
        return out

    @cached_property
    def derived(self) -> list[tuple[Pack, Derived]]:
        return [(p, d) for p in self.packs for d in p.derived]

    @cached_property
    def _reportable(self) -> dict[str, MeasureInfo]:
        """Measures a return may carry: everything but derived ones."""
        derived = {d.key for _, d in self.derived}
        return {k: m for k, m in self.measures.items() if k not in derived}

    @cached_property
    def _codes(self) -> list[tuple[Pack, str, str]]:
        return [(p, r.code.upper(), r.measure_key) for p in self.packs if p.suite for r in p.rules if r.code]

    def resolve(self, kind: str, token: str, period: str) -> MeasureInfo | None:
        """An indicator column value -> measure: a stable key, or a contract code resolved
        against the suite in force for that period (PI4 in 2018 is PI1 in 2024)."""
        key = (kind, token, period)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(kind, token, period)
        return self._resolved[key]

    @cached_property
    def _resolved(self) -> dict[tuple[str, str, str], MeasureInfo | None]:
        return {}

    def _resolve(self, kind: str, token: str, period: str) -> MeasureInfo | None:
        token = token.strip()
        info = self._reportable.get(token) or self._reportable.get(token.lower())
        if info is not None:
            return info if info.kind == kind else None
        day = period_start(period)
        for pack, code, key in self._codes:
            if code == token.upper() and pack.in_force(day):
                info = self._reportable.get(key)
                if info is not None and info.kind == kind:
                    return info
        return None

    def codes_in_force(self, day: dt.date) -> list[str]:
        return sorted({code for pack, code, _ in self._codes if pack.in_force(day)})

    def rules_for(self, kind: str, provider: str) -> list[BoundRule]:
        """The rules a return of `kind` from `provider` is rated against (never a calendar rule)."""
        return [b for b in self.rules if b.rule.kind == kind and b.rule.rated_by == "return"
                and b.pack.applies_to_provider(provider)]

    @cached_property
    def calendar_rules(self) -> dict[str, BoundRule]:
        """kind -> its `return_overdue_<kind>` rule (the alert a missing return opens)."""
        return {b.rule.kind: b for b in self.rules if b.rule.rated_by == "calendar"}

    def derived_for(self, kind: str, provider: str) -> list[tuple[Pack, Derived]]:
        return [(p, d) for p, d in self.derived if d.kind == kind and p.applies_to_provider(provider)]
