"""Nothing false reaches a leader: returns that would be misread are rejected whole, each
problem located (FILE:ROW:COLUMN) and said once."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from returns import ReturnProblem, ReturnRejected, parse_return
from returns.errors import condense
from returns.kinds import FRACTIONS
from rules.catalog import Catalog
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Input, Pack, Plausible, Rule
from tests.conftest import EXAMPLES
from tests.returns.catalogs import SMALL, UNRATED

SHIPPED = load_catalog(SHIPPED_PACKS)
LANDS = dt.datetime(2026, 12, 2, 0, 47, tzinfo=dt.UTC)  # the landing clock
KPI = "provider,period,indicator,value\n"
FINANCE = "provider,period,measure,value\n"
CASELOAD = "provider,period,team,service,worker,asye,caseload\n"


def problems(name: str, text: str | bytes, catalog: Catalog = SHIPPED, now: dt.datetime | None = LANDS) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ReturnRejected) as e:
        parse_return(name, data, catalog, now=now)
    return [str(p) for p in e.value.problems]


def accepted(name: str, text: str | bytes, catalog: Catalog = SHIPPED, now: dt.datetime | None = LANDS):
    data = text.encode() if isinstance(text, str) else text
    return parse_return(name, data, catalog, now=now)


def example_rows(name: str = "kpi-2024-10.csv") -> list[list[str]]:
    return [line.split(",") for line in (EXAMPLES / name).read_text().splitlines()[1:]]


def is_percent(period: str, token: str) -> bool:
    info = SHIPPED.resolve("kpi", token, period)
    return info is not None and info.unit == "percent"


def as_fractions(rows: list[list[str]]) -> str:
    """The return as a CSV saved from a percent-formatted sheet holds it: 68.8% as 0.688."""
    out = [[p, d, t, f"{float(v) / 100:g}" if is_percent(d, t) else v] for p, d, t, v in rows]
    return KPI + "".join(",".join(r) + "\n" for r in out)


# -- 1. percentages given as fractions ---------------------------------------------------------------------

def test_a_return_of_fractions_is_rejected_whole_with_one_message():
    rows = example_rows()
    found = problems("kpi.csv", as_fractions(rows))
    first = next(i for i, (_, d, t, _v) in enumerate(rows, start=2) if is_percent(d, t))
    percentages = sum(is_percent(d, t) for _, d, t, _v in rows)
    assert found == [f"kpi.csv:{first}:value: {FRACTIONS} (all {percentages} percentage values in this return "
                     "lie between 0 and 1, as fractions do)"]
    assert FRACTIONS == "percentages are expected as 0-100, e.g. 81.6, not 0.816"


def test_the_example_return_itself_lands():
    assert len(accepted("kpi.csv", (EXAMPLES / "kpi-2024-10.csv").read_bytes()).observations) == 15


def test_one_small_genuine_percentage_among_normal_ones_is_fine():
    rows = [r if r[2] != "PI11" else [r[0], r[1], "PI11", "0.9"] for r in example_rows()]
    parsed = accepted("kpi.csv", KPI + "".join(",".join(r) + "\n" for r in rows))
    assert [o.value for o in parsed.observations if o.measure == SHIPPED.resolve("kpi", "PI11", "2024-10").key] == [0.9]


@pytest.mark.parametrize(("values", "rejected"), [
    (["0.5"], False),  # one value: could be a genuine 0.5%
    (["0.5", "0.7"], True),
    (["0", "0"], False),  # zeros read the same either way
    (["0", "1"], True),
    (["0.5%", "0.7%"], False),  # written as percentages
    (["0.5", "70"], False),
])
def test_fraction_rule_over_percent_rows(values, rejected):
    text = KPI + "".join(f"sandwell,2024-10,PI{i},{v}\n" for i, v in zip((1, 2), values, strict=False))
    if rejected:
        assert problems("k.csv", text) == [f"k.csv:2:value: {FRACTIONS} (all 2 percentage values in this return lie "
                                           "between 0 and 1, as fractions do)"]
    else:
        accepted("k.csv", text)


def test_only_rows_whose_unit_is_percent_count():
    # PI4 (2024 suite) is a rate per 10,000 and PI1 a percentage: one percentage value only
    assert SHIPPED.resolve("kpi", "PI4", "2024-10").unit == "rate_per_10000"
    accepted("k.csv", KPI + "sandwell,2024-10,PI1,0.6\nsandwell,2024-10,PI4,0.5\nsandwell,2024-11,PI4,0.2\n")


# -- 2. plausible ranges ------------------------------------------------------------------------------------

def ranged(plausible: dict | None, unit: str = "number") -> Catalog:
    rule = Rule(id="days_to_court", name="Days to court", kind="kpi", unit=unit, polarity="lower_is_better",
                code="PI1", versions=UNRATED, plausible=plausible)
    return Catalog([Pack(pack="p", title="p", suite="s", rules=[rule],
                         inputs=[Input(key="contract_sum", name="c", kind="finance", unit="gbp",
                                       plausible={"min": 0, "max": 5e9})])])


def test_a_value_outside_the_plausible_range_is_rejected_with_the_range_named():
    catalog = ranged({"min": 0, "max": 365})
    assert problems("k.csv", KPI + "sandwell,2024-10,PI1,400\nsandwell,2024-11,PI1,-1\n", catalog) == [
        "k.csv:2:value: expected a value from 0 to 365 (the plausible range for days_to_court in its rule pack), "
        "got '400'",
        "k.csv:3:value: expected a value from 0 to 365 (the plausible range for days_to_court in its rule pack), "
        "got '-1'",
    ]
    assert [o.value for o in accepted("k.csv", KPI + "sandwell,2024-10,PI1,365\n", catalog).observations] == [365]


def test_money_ranges_are_named_in_pounds():
    assert problems("f.csv", FINANCE + "sandwell,2024-10,contract_sum,£6bn\n", ranged(None)) == [
        "f.csv:2:value: expected a value from £0 to £5,000,000,000 (the plausible range for contract_sum in its rule "
        "pack), got '£6bn'"]


@pytest.mark.parametrize("bad", [{"min": 5, "max": 5}, {"min": 6, "max": 5}, {"min": 0}, {"min": 0, "max": "inf"},
                                 {"min": 0, "max": 1, "step": 1}])
def test_a_plausible_range_must_be_two_finite_edges_min_below_max(bad):
    with pytest.raises(ValidationError):
        Plausible(**bad)


def test_the_shipped_packs_give_every_reportable_measure_a_range_fitting_its_unit():
    expected = {"percent": (0, 100), "rate_per_10000": (0, 10_000)}
    derived = {d.key for _, d in SHIPPED.derived}
    for key, info in SHIPPED.measures.items():
        if key in derived:
            continue
        assert info.plausible is not None, key
        if info.unit in expected:
            assert (info.plausible.min, info.plausible.max) == expected[info.unit], key
    assert (SHIPPED.measures["caseload"].plausible.min, SHIPPED.measures["caseload"].plausible.max) == (0, 100)
    assert SHIPPED.measures["contract_sum"].plausible.max == 5e9


@pytest.mark.parametrize(("header", "row", "column"), [
    (KPI, "sandwell,2024-10,PI1,1e308", "value"),  # percent
    (KPI, "sandwell,2024-10,PI4,1e308", "value"),  # rate
    (KPI, "sandwell,2024-10,population_under_18,1e308", "value"),  # count input
    (FINANCE, "sandwell,2024-10,contract_sum,1e308", "value"),
    (FINANCE, "sandwell,2024-10,other_income,-1e308", "value"),
    (CASELOAD, "sandwell,2024-10,Team A,care_leavers,Ann,no,1e308", "caseload"),
])
def test_finite_but_absurd_values_are_rejected_by_the_shipped_packs(header, row, column):
    [found] = problems("r.csv", header + row + "\n")
    assert found.startswith(f"r.csv:2:{column}: expected a ") and "'" in found


@pytest.mark.parametrize(("unit", "text", "limit"), [
    ("number", "1e308", "1,000,000,000"), ("count", "2e9", "1,000,000,000"),
    ("rate_per_10000", "1e10", "1,000,000,000"),
])
def test_a_unit_bounds_absurd_values_when_the_pack_gives_no_range(unit, text, limit):
    assert problems("k.csv", KPI + f"sandwell,2024-10,PI1,{text}\n", ranged(None, unit)) == [
        f"k.csv:2:value: expected a value of at most {limit} in size, got {text!r}"]


def test_money_without_a_range_is_bounded_at_a_trillion():
    assert problems("f.csv", FINANCE + "sandwell,2024-10,contract_sum,1e308\n", SMALL) == [
        "f.csv:2:value: expected a value of at most £1,000,000,000,000 in size, got '1e308'"]


# -- 3. a period in the future ------------------------------------------------------------------------------

def test_a_period_after_the_landing_month_is_rejected():
    assert problems("k.csv", KPI + "sandwell,Apr-99,PI1,80\n") == [
        "k.csv:2:period: period 2099-04 is after this month (2026-12) (expected a month that has begun)"]


def test_the_landing_month_itself_and_earlier_are_accepted():
    parsed = accepted("k.csv", KPI + "sandwell,Dec-26,PI1,80\nsandwell,2026-11,PI1,80\n")
    assert parsed.periods == ("2026-11", "2026-12")


def test_the_limit_follows_the_clock_given():
    text = KPI + "sandwell,2027-01,PI1,80\n"
    accepted("k.csv", text, now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert problems("k.csv", text, now=dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)) == [
        "k.csv:2:period: period 2027-01 is after this month (2026-12) (expected a month that has begun)"]


# -- 4. silent misreads -------------------------------------------------------------------------------------

def test_a_json_key_given_twice_in_a_row_object_is_located():
    text = ('[{"provider": "sandwell", "period": "2024-10", "indicator": "PI1", "value": 60},\n'
            ' {"provider": "sandwell", "period": "2024-10", "indicator": "PI2", "value": 80, "value": 50}]')
    assert problems("k.json", text) == [
        "k.json:2:value: key 'value' given twice in this row object (expected each key once)"]


def test_a_rows_key_given_twice_is_refused():
    row = '{"provider": "sandwell", "period": "2024-10", "indicator": "PI1", "value": 60}'
    assert problems("k.json", f'{{"rows": [{row}], "rows": [{row}]}}') == [
        'k.json:0:-: key "rows" given twice (expected a JSON array of row objects, or an object with a "rows" array, '
        'once)']


def test_a_csv_row_with_fewer_cells_than_the_header_is_located():
    assert problems("k.csv", KPI + "sandwell,2024-10,PI1,60\nsandwell,2024-10,PI2\n") == [
        "k.csv:3:value: row has 3 of the header's 4 cells (expected a cell for every column; leave a cell empty, "
        "with its comma, for a value not reported)"]
    # an empty cell, comma kept, is still "not reported"
    assert accepted("k.csv", KPI + "sandwell,2024-10,PI1,\n").observations[0].value is None


@pytest.mark.parametrize(("text", "position", "code"), [("£٩٦m", 2, "0669"), ("９６７２００００", 1, "FF19")])
def test_non_ascii_digits_in_money_are_located(text, position, code):
    assert problems("f.csv", FINANCE + f"sandwell,2024-10,contract_sum,{text}\n") == [
        f"f.csv:2:value: expected digits 0-9, got {text!r} (character {position} is the non-ASCII digit U+{code})"]


def test_non_ascii_digits_in_a_kpi_value_are_located():
    assert problems("k.csv", KPI + "sandwell,2024-10,PI1,٨١.٦\n") == [
        "k.csv:2:value: expected digits 0-9, got '٨١.٦' (character 1 is the non-ASCII digit U+0668)"]


def test_an_xlsx_formula_without_a_cached_value_is_located():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["provider", "period", "indicator", "value"])
    sheet.append(["sandwell", "2024-10", "PI1", 60])
    sheet.append(["sandwell", "2024-10", "PI2", "=B7*2"])  # openpyxl saves formulas without results
    out = io.BytesIO()
    book.save(out)
    assert problems("k.xlsx", out.getvalue()) == [
        "k.xlsx:3:value: formula in cell D3 has no saved value (expected values: save the workbook in Excel so the "
        "results are stored, or paste values)"]


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x00", "\t", "\x85", "\x9b", "\x7f"])
@pytest.mark.parametrize("column", ["team", "worker"])
def test_control_characters_in_team_and_worker_names_are_located(char, column):
    team, worker = ("Team" + char + "A", "Ann") if column == "team" else ("Team A", "An" + char + "n")
    row = f'sandwell,2025-03,"{team}",care_leavers,"{worker}",no,12\n'
    position = 5 if column == "team" else 3
    [found] = problems("c.csv", CASELOAD + row)
    what = "a team name" if column == "team" else "a worker name or ID"
    assert found == (f"c.csv:2:{column}: expected {what} without control characters, got "
                     f"{(team if column == 'team' else worker)!r} (character {position} is the control character "
                     f"U+{ord(char):04X})")


def test_control_characters_in_a_provider_are_located():
    [found] = problems("k.csv", KPI + "sand\x1b[31mwell,2024-10,PI1,60\n")
    assert found.startswith("k.csv:2:provider: expected a provider of lower-case letters")


# -- 5. one line per problem, however many rows share it ----------------------------------------------------

def test_the_same_problem_on_every_row_is_one_line_with_the_row_range():
    text = KPI + "".join(f"sandwell,2024-10,PI{i},n/a\n" for i in range(1, 16))
    assert problems("kpi.csv", text) == ["kpi.csv:2-16:value: expected a number, got 'n/a'"]


def test_runs_are_broken_by_a_row_without_the_problem_and_kept_in_row_order():
    rows = ["n/a", "n/a", "60", "n/a"]
    text = KPI + "".join(f"sandwell,2025-0{i + 1},PI1,{v}\n" for i, v in enumerate(rows)) + "sandwell,May,PI1,n/a\n"
    assert problems("k.csv", text) == [
        "k.csv:2-3:value: expected a number, got 'n/a'",
        "k.csv:5-6:value: expected a number, got 'n/a'",
        "k.csv:6:period: expected a period as YYYY-MM, Mon-YY or Month YYYY (e.g. 2024-05, May-24 or May 2024), got "
        "'May'",
    ]


def test_the_period_message_names_every_accepted_form():
    [found] = problems("k.csv", KPI + "sandwell,2024/05,PI1,60\n")
    assert all(form in found for form in ("2024-05", "May-24", "May 2024"))


problem = st.builds(ReturnProblem, st.just("f.csv"), st.integers(0, 12), st.sampled_from(["value", "period", "-"]),
                    st.sampled_from(["a", "b"]))


@settings(database=None, deadline=None, max_examples=300)
@given(st.lists(problem, max_size=30))
def test_condensing_loses_no_problem_and_keeps_first_rows_in_order(found):
    condensed = condense(found)
    expanded = sorted((p.file, r, p.column, p.message) for p in condensed
                      for r in range(p.row, (p.last_row or p.row) + 1))
    assert expanded == sorted((p.file, p.row, p.column, p.message) for p in found)
    assert condense(condensed) == condensed
    assert len(condensed) <= len(found)


def test_json_rows_are_condensed_too():
    rows = [{"provider": "sandwell", "period": "2024-10", "indicator": f"PI{i}", "value": "n/a"} for i in (1, 2, 3)]
    assert problems("k.json", json.dumps(rows)) == ["k.json:1-3:value: expected a number, got 'n/a'"]
