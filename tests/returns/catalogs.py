"""Real catalogues (rules.catalog.Catalog built from small packs) for the parser tests:
no test double of our own component."""

from __future__ import annotations

import datetime as dt

from rules.catalog import Catalog
from rules.model import Input, Pack, Rule, RuleVersion

UNRATED = [RuleVersion(effective_from=dt.date(2000, 1, 1), basis="unrated")]


def rule(id: str, unit: str, code: str | None = None, measure: str | None = None) -> Rule:
    return Rule(id=id, name=id, kind="kpi", unit=unit, polarity="higher_is_better", code=code, measure=measure,
                versions=UNRATED)


def inputs(kind: str = "kpi", **units: str) -> list[Input]:
    return [Input(key=k, name=k, kind=kind, unit=u) for k, u in units.items()]


# Contract codes changed on 2022-04-01: PI4 meant single assessments before, PI1 since.
SMALL = Catalog([
    Pack(pack="old", title="old", suite="old", effective_to=dt.date(2022, 3, 31),
         rules=[rule("single_assessments_45wd_old", "percent", "PI4", "single_assessments_45wd")]),
    Pack(pack="new", title="new", suite="new", effective_from=dt.date(2022, 4, 1),
         rules=[rule("single_assessments_45wd", "percent", "PI1"), rule("cin_rate", "rate_per_10000", "PI2"),
                rule("children_in_care", "count", "PI3")]),
    Pack(pack="inputs", title="inputs",
         inputs=inputs(agency_spend="gbp", avg_days_to_court="number") + inputs("finance", contract_sum="gbp")),
])

# For generated returns: one measure per unit, PI1/PI2 as codes, and 153 plain numeric indicators.
PROPERTIES = Catalog([
    Pack(pack="units", title="units", suite="any",
         rules=[rule("pct_a", "percent", "PI1"), rule("rate_b", "rate_per_10000", "PI2")],
         inputs=inputs(count_c="count", num_d="number", gbp_e="gbp",
                       **{f"ind_{i}": "number" for i in range(153)}) + inputs("finance", contract_sum="gbp")),
])
