"""rules/coverage.py: the months the packs cover for a kind of return, and the rejection of a
return for a month no rule covers (today a KPI return for 2023-05 lands with 0 ratings)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.catalog import Catalog
from rules.coverage import covered, covers, describe
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Pack, Rule, RuleVersion
from rules.periods import period_from_index
from tests.conftest import kpi_csv


def rule(id: str, kind: str, *versions: tuple[str, str | None]) -> Rule:
    return Rule(id=id, name=id, kind=kind, unit="percent", polarity="higher_is_better",
                versions=[RuleVersion(effective_from=dt.date.fromisoformat(f),
                                      effective_to=dt.date.fromisoformat(t) if t else None, basis="unrated")
                          for f, t in versions])


def test_the_shipped_packs_cover_the_two_suites_and_not_the_gap_between():
    catalog = load_catalog(SHIPPED_PACKS)
    kpi = covered(catalog, "kpi")
    assert describe(kpi) == "2018-04 to 2022-03 and 2024-04 onwards"
    assert covers(kpi, "2022-03") and not covers(kpi, "2022-04") and not covers(kpi, "2023-05")
    assert not covers(kpi, "2024-03") and covers(kpi, "2024-04") and not covers(kpi, "2018-03")
    assert describe(covered(catalog, "finance")) == "2018-04 onwards"
    assert describe(covered(catalog, "caseload")) == "2018-04 onwards"


def test_pack_and_version_dates_intersect_and_a_month_counts_from_its_first_day():
    pack = Pack(pack="p", title="p", effective_from=dt.date(2020, 1, 15), effective_to=dt.date(2020, 12, 31),
                rules=[rule("a", "kpi", ("2019-01-01", "2020-06-30"), ("2020-09-01", None))])
    spans = covered(Catalog([pack]), "kpi")
    assert describe(spans) == "2020-02 to 2020-06 and 2020-09 to 2020-12"
    assert describe(covered(Catalog([pack]), "finance")) == "no period"


def test_adjacent_and_overlapping_spans_merge_and_one_month_is_named_once():
    pack = Pack(pack="p", title="p", rules=[
        rule("a", "kpi", ("2020-01-01", "2020-03-31")),
        rule("b", "kpi", ("2020-04-01", "2020-05-31"), ("2021-01-01", "2021-01-31")),
        rule("c", "kpi", ("2020-02-01", "2020-02-28"))])
    assert describe(covered(Catalog([pack]), "kpi")) == "2020-01 to 2020-05 and 2021-01"


def test_a_calendar_rule_covers_nothing():
    catalog = Catalog([Pack.model_validate({"pack": "r", "title": "r", "rules": [{
        "id": "return_overdue_kpi", "rated_by": "calendar", "name": "x", "kind": "kpi", "unit": "count",
        "polarity": "lower_is_better", "versions": [{"effective_from": "2018-04-01", "basis": "pack",
                                                     "bands": {"green": [{"lte": 0}], "red": [{"gt": 0}]}}]}]})])
    assert covered(catalog, "kpi") == []


months = st.integers(min_value=2000 * 12, max_value=2040 * 12)


@settings(database=None, deadline=None, max_examples=200)
@given(st.lists(st.tuples(months, st.one_of(st.none(), st.integers(0, 60))), min_size=1, max_size=6), months)
def test_a_month_is_covered_exactly_when_a_version_is_in_force_on_its_first_day(spans, probe):
    versions = []
    for first, length in spans:
        start = period_from_index(first) + "-01"
        end = None if length is None else (dt.date.fromisoformat(period_from_index(first + length + 1) + "-01")
                                           - dt.timedelta(days=1)).isoformat()
        versions.append((start, end))
    rules = [rule(f"r{i}", "kpi", v) for i, v in enumerate(versions)]
    catalog = Catalog([Pack(pack="p", title="p", rules=rules)])
    day = dt.date.fromisoformat(period_from_index(probe) + "-01")
    in_force = any(r.version_for(day) is not None for r in rules)
    assert covers(covered(catalog, "kpi"), period_from_index(probe)) == in_force


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_kpi_return_for_a_month_no_rule_covers_is_rejected_naming_the_covered_months(cli, tmp_path):
    may = tmp_path / "kpi-2023-05.csv"
    may.write_bytes(kpi_csv([("2023-05", "single_assessments_45wd", "80.1"),
                             ("2023-05", "cin_visits_on_time", "70.2")]))
    res = cli("ingest", str(may))
    assert res.returncode == 2, res.stdout
    assert res.stderr.strip() == (f"{may}:2-3:period: no rule in force covers 2023-05 (the rule packs cover 2018-04 "
                                  "to 2022-03 and 2024-04 onwards for KPI returns)")
    assert json.loads(cli("returns", "pending", "--json").stdout) == []
    both = tmp_path / "kpi-two.csv"
    both.write_bytes(kpi_csv([("2024-04", "single_assessments_45wd", "80.1"),
                              ("2023-05", "cin_visits_on_time", "70.2")]))
    res = cli("ingest", "--json", str(both))
    assert res.returncode == 2 and json.loads(res.stdout)["errors"] == [
        f"{both}:3:period: no rule in force covers 2023-05 (the rule packs cover 2018-04 to 2022-03 and 2024-04 "
        "onwards for KPI returns)"]
    assert json.loads(cli("status", "--json").stdout) == []  # nothing landed, nothing rated
