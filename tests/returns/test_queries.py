"""returns/queries.py: which values a return is queried on (held until confirmed), exhaustively
and by property: the example year raises none, the PI1 typo does, and so does last month's
return relabelled."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.cli.demo import example_files
from returns import Observation, ParsedReturn, parse_return
from returns.queries import (
    HISTORY_MONTHS,
    MIN_HISTORY,
    MIN_IDENTICAL,
    RELATIVE_MARGIN,
    ReturnQuery,
    find_queries,
    limits,
    wanted_periods,
)
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.conftest import EXAMPLES

PI1 = [80.2, 81.6, 80.3, 77.3, 75.1, 71.9, 68.8, 73.5, 77.8, 80.9, 83.4, 86.4]  # the example year's PI1


@dataclass(frozen=True)
class Stored:
    period: str
    measure: str
    value: float | None
    worker: str | None = None


def periods(start: str, n: int) -> list[str]:
    year, month = (int(x) for x in start.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def kpi_return(period: str, values: dict[str, float | None], kind: str = "kpi", name: str = "r.csv",
               columns: dict[str, str] | None = None) -> ParsedReturn:
    obs = tuple(Observation(period, m, v, row) for row, (m, v) in enumerate(values.items(), start=2))
    return ParsedReturn(name, kind, "sandwell", (period,), obs, "0" * 64,
                        columns or {"provider": "provider", "period": "period", "indicator": "indicator",
                                    "value": "value"})


def history(measure: str, values: list[float], end: str = "2025-03") -> list[Stored]:
    """`values` for the months up to `end`, oldest first."""
    year, month = (int(x) for x in end.split("-"))
    index = year * 12 + month - 1 - (len(values) - 1)
    start = f"{index // 12:04d}-{index % 12 + 1:02d}"
    return [Stored(p, measure, v) for p, v in zip(periods(start, len(values)), values, strict=True)]


# --- the examples of the issue -------------------------------------------------------------


def test_the_pi1_typo_is_a_query_naming_the_history():
    found = find_queries(kpi_return("2025-04", {"single_assessments_45wd": 18.6}), history(
        "single_assessments_45wd", PI1), label=lambda m, p: "PI1")
    assert [str(q) for q in found] == [
        "r.csv:2:value: query: 18.6 is far outside PI1's last 12 months (68.8 to 86.4); confirm it or send a "
        "corrected file"]


def test_a_true_value_after_the_year_is_no_query_a_genuine_red_included():
    for value in (86.4, 70.0, 60.0, 50.0, 100.0):
        assert find_queries(kpi_return("2025-04", {"m": value}), history("m", PI1)) == [], value


@pytest.fixture(scope="module")
def year():
    catalog = load_catalog(SHIPPED_PACKS)
    return catalog, [parse_return(f.name, f.read_bytes(), catalog) for f in example_files(EXAMPLES)]


def test_the_example_year_landed_month_by_month_raises_no_query(year):
    _, parsed = year
    stored: list[Observation] = []
    for p in parsed:
        assert find_queries(p, [o for o in stored if o.period in wanted_periods(p)]) == [], p.filename
        stored += p.observations


def test_the_example_year_in_one_file_raises_no_query(year):
    _, parsed = year
    kpi = [p for p in parsed if p.kind == "kpi"]
    rows = tuple(o for p in kpi for o in p.observations)
    whole = ParsedReturn("year.csv", "kpi", "sandwell", tuple(sorted({o.period for o in rows})), rows, "0" * 64)
    assert find_queries(whole, []) == []


def test_march_relabelled_as_april_is_a_query_on_its_period_rows(year):
    catalog, parsed = year
    stored = [o for p in parsed if p.kind == "kpi" for o in p.observations]
    data = (EXAMPLES / "kpi-2025-03.csv").read_bytes().replace(b"2025-03", b"2025-04")
    april = parse_return("kpi-2025-04.csv", data, catalog)
    assert [str(q) for q in find_queries(april, stored)] == [
        "kpi-2025-04.csv:2-16:period: query: all 15 values for 2025-04 equal 2025-03's: 2025-03's figures "
        "relabelled? confirm it or send a corrected file"]


def test_a_column_is_named_as_the_file_writes_it(year):
    catalog, parsed = year
    stored = [o for p in parsed if p.kind == "kpi" for o in p.observations]
    data = (EXAMPLES / "kpi-2025-03.csv").read_bytes().replace(b"2025-03", b"2025-04").replace(
        b"provider,period,indicator,value", b"Provider,Period,Indicator,Value").replace(b",86.4", b",18.6")
    found = find_queries(parse_return("kpi-2025-04.csv", data, catalog), stored)
    assert [(q.row, q.column) for q in found] == [(2, "Value")]


# --- far outside ---------------------------------------------------------------------------


def test_too_short_a_history_judges_nothing():
    for n in range(MIN_HISTORY):
        assert find_queries(kpi_return("2025-04", {"m": 1e6}), history("m", [50.0] * n)) == []
    assert len(find_queries(kpi_return("2025-04", {"m": 1e6}), history("m", [50.0] * MIN_HISTORY))) == 1
    assert limits([1.0] * (MIN_HISTORY - 1)) is None
    assert limits([1.0] * MIN_HISTORY) is not None


def test_only_the_last_twelve_months_count():
    old = history("m", [5.0] * 12, "2023-12")  # long ago: no longer history
    recent = history("m", [80.0] * 6)
    assert find_queries(kpi_return("2025-04", {"m": 80.0}), old + recent) == []
    assert len(find_queries(kpi_return("2025-04", {"m": 5.0}), old + recent)) == 1
    assert find_queries(kpi_return("2025-04", {"m": 5.0}), old) == []  # nothing within the window


def test_a_gap_in_the_history_is_said():
    gappy = [s for s in history("m", PI1) if s.period not in ("2024-06", "2024-07")]
    (q,) = find_queries(kpi_return("2025-04", {"m": 18.6}), gappy)
    assert "far outside m's 10 values in the last 12 months (68.8 to 86.4)" in q.message


def test_a_blank_value_is_never_queried_and_a_blank_history_value_is_no_history():
    assert find_queries(kpi_return("2025-04", {"m": None}), history("m", PI1)) == []
    blanks = [Stored(s.period, s.measure, None) for s in history("m", PI1)]
    assert find_queries(kpi_return("2025-04", {"m": 18.6}), blanks) == []


def test_a_flat_history_at_zero_judges_nothing_and_a_flat_one_elsewhere_a_quarter_either_side():
    assert limits([0.0] * 12) is None
    flat = limits([100.0] * 12)
    assert flat is not None and (flat.low, flat.high) == (75.0, 125.0)
    assert find_queries(kpi_return("2025-04", {"m": 76.0}), history("m", [100.0] * 12)) == []
    assert len(find_queries(kpi_return("2025-04", {"m": 74.0}), history("m", [100.0] * 12))) == 1


def test_other_kinds_are_not_judged_against_history():
    for kind in ("finance", "caseload"):
        assert find_queries(kpi_return("2025-04", {"m": 18.6}, kind=kind), history("m", PI1)) == []


def test_each_measure_is_judged_against_its_own_history():
    stored = history("a", PI1) + history("b", [5.0, 6.0, 5.5, 6.5, 5.0, 6.0, 5.5, 6.0, 5.0, 6.0, 5.5, 6.0])
    found = find_queries(kpi_return("2025-04", {"a": 6.0, "b": 80.0}), stored)
    assert [(q.row, q.message.split(" is ")[0]) for q in found] == [(2, "6"), (3, "80")]


def test_a_restated_period_is_judged_without_its_own_earlier_value():
    stored = history("m", PI1 + [18.6], "2025-04")  # 2025-04 stored as 18.6 (confirmed), now corrected
    assert find_queries(kpi_return("2025-04", {"m": 86.4}), stored) == []
    assert len(find_queries(kpi_return("2025-04", {"m": 18.6}), stored)) == 1  # judged on the 12 before


def test_wanted_periods_are_the_twelve_before_for_kpis_and_the_one_before_otherwise():
    assert wanted_periods(kpi_return("2025-04", {"m": 1.0})) == periods("2024-04", 12)
    assert wanted_periods(kpi_return("2025-04", {"m": 1.0}, kind="finance")) == ["2025-03"]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
QUICK = settings(database=None, deadline=None, max_examples=300)


@QUICK
@given(st.lists(finite, min_size=MIN_HISTORY, max_size=HISTORY_MONTHS), st.floats(0, 1))
def test_a_value_within_the_range_the_history_spans_is_never_far_outside(values, where):
    bounds = limits(values)
    low, high = min(values), max(values)
    value = low + (high - low) * where
    assert bounds is None or not bounds.outside(value)
    assert bounds is None or not (bounds.outside(low) or bounds.outside(high))


@QUICK
@given(st.lists(finite, min_size=MIN_HISTORY, max_size=HISTORY_MONTHS), finite,
       st.floats(min_value=0.01, max_value=100))
def test_limits_scale_with_the_values(values, value, scale):
    bounds, scaled = limits(values), limits([v * scale for v in values])
    assert (bounds is None) == (scaled is None)
    if bounds is not None and scaled is not None:
        assert math.isclose(scaled.low, bounds.low * scale, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(scaled.high, bounds.high * scale, rel_tol=1e-9, abs_tol=1e-6)


@QUICK
@given(st.lists(finite, min_size=MIN_HISTORY, max_size=HISTORY_MONTHS), finite)
def test_a_query_says_the_value_and_the_history_range(values, value):
    stored = history("m", values)
    found = find_queries(kpi_return("2025-04", {"m": value}), stored)
    bounds = limits(values)
    assert len(found) == int(bounds is not None and bounds.outside(value))
    for q in found:
        assert q.row == 2 and q.column == "value"
        assert f"{value:,.10g} is far outside m's last {len(values)} months" in q.message


@QUICK
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=MIN_HISTORY,
                max_size=HISTORY_MONTHS))
def test_a_quarter_of_the_largest_value_either_side_of_the_range_is_never_far_outside(values):
    bounds = limits(values)
    margin = RELATIVE_MARGIN * max(values)
    if bounds is None:
        assert margin == 0  # every value 0 (or so small its margin underflows): nothing to judge by
        return
    assert not bounds.outside(min(values) - margin * 0.999) and not bounds.outside(max(values) + margin * 0.999)


# --- relabelled ----------------------------------------------------------------------------


def test_fewer_than_three_repeated_values_is_no_query():
    for n in range(1, MIN_IDENTICAL):
        values = {f"m{i}": float(i) for i in range(n)}
        stored = [Stored("2025-03", m, v) for m, v in values.items()]
        assert find_queries(kpi_return("2025-04", values), stored) == []


def test_one_value_differing_is_no_query():
    values = {f"m{i}": float(i) for i in range(10)}
    stored = [Stored("2025-03", m, v) for m, v in values.items()]
    assert len(find_queries(kpi_return("2025-04", values), stored)) == 1
    assert find_queries(kpi_return("2025-04", {**values, "m3": 3.5}), stored) == []
    assert find_queries(kpi_return("2025-04", {**values, "new": 1.0}), stored) == []  # a value not given before


def test_a_value_left_blank_is_not_compared():
    values = {f"m{i}": float(i) for i in range(4)}
    stored = [Stored("2025-03", m, v) for m, v in values.items()]
    assert len(find_queries(kpi_return("2025-04", {**values, "blank": None}), stored)) == 1


def test_the_period_before_must_be_the_month_before():
    values = {f"m{i}": float(i) for i in range(4)}
    stored = [Stored("2025-02", m, v) for m, v in values.items()]
    assert find_queries(kpi_return("2025-04", values), stored) == []


@pytest.mark.parametrize("kind", ["kpi", "finance", "caseload"])
def test_every_kind_can_be_relabelled(kind):
    values = {f"m{i}": float(i) for i in range(5)}
    stored = [Stored("2025-03", m, v) for m, v in values.items()]
    (q,) = find_queries(kpi_return("2025-04", values, kind=kind), stored)
    assert (q.row, q.last_row, q.column) == (2, 6, "period")


def test_caseloads_are_compared_worker_by_worker():
    rows = tuple(Observation("2025-04", "caseload", float(n), 2 + i, team="t", service="care_leavers", worker=w,
                             asye=False) for i, (w, n) in enumerate([("A", 10), ("B", 12), ("C", 15)]))
    parsed = ParsedReturn("c.csv", "caseload", "sandwell", ("2025-04",), rows, "0" * 64)
    same = [Stored("2025-03", "caseload", o.value, o.worker.lower()) for o in rows]
    assert len(find_queries(parsed, same)) == 1
    swapped = [Stored("2025-03", "caseload", v, w) for w, v in [("a", 12.0), ("b", 10.0), ("c", 15.0)]]
    assert find_queries(parsed, swapped) == []


def test_a_two_month_file_repeating_its_first_month_is_a_query():
    rows = tuple(Observation(p, f"m{i}", float(i), 2 + 4 * j + i) for j, p in enumerate(["2025-03", "2025-04"])
                 for i in range(4))
    parsed = ParsedReturn("r.csv", "kpi", "sandwell", ("2025-03", "2025-04"), rows, "0" * 64)
    (q,) = find_queries(parsed, [])
    assert (q.row, q.last_row) == (6, 9) and "for 2025-04 equal 2025-03's" in q.message


def test_a_query_round_trips_through_its_stored_form():
    q = ReturnQuery("r.csv", 2, "value", "x", 5)
    assert ReturnQuery.from_dict("r.csv", q.as_dict()) == q
    assert str(q) == "r.csv:2-5:value: query: x"
    single = ReturnQuery("r.csv", 2, "value", "x")
    assert "last_row" not in single.as_dict() and str(single) == "r.csv:2:value: query: x"
