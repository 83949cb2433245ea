"""Properties of parse_return: nothing but ReturnRejected escapes it, whatever the bytes,
and a valid generated return comes back as exactly its rows. Plus its speed at scale."""

import datetime as dt
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returns import Observation, ParsedReturn, ReturnRejected, parse_return
from returns.kinds import FRACTIONS
from tests.returns.catalogs import PROPERTIES

LANDS = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)

# What PROPERTIES (a real catalogue) holds, for building expected results.
UNITS = {"pct_a": "percent", "rate_b": "rate_per_10000", "count_c": "count", "num_d": "number", "gbp_e": "gbp"}
CODES = {"PI1": "pct_a", "PI2": "rate_b"}

FUZZ = settings(database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
NAMES = st.sampled_from(["r.csv", "r.CSV", "r.xlsx", "r.json", "r.txt", "r", "dir/r.csv", ".csv"])
TOKENS = ["provider", "period", "indicator", "value", "measure", "team", "service", "worker", "asye", "caseload",
          "sandwell", "2024-05", "Mar-24", "PI1", "pct_a", "rate_b", "count_c", "gbp_e", "num_d", "contract_sum",
          "care_leavers", "yes", "12", "-1", "1e400", "nan", "£1m", "(1,000)", "", " ", '"', "\ufeff", "\r", "\n",
          "1e308", "-1e308", "0.816", "0.5", "Apr-99", "2099-04", "٣", "£٩٦m", "１２", "A\x1bB", "T\x85m", "\x00"]


def outcome(filename: str, data: bytes) -> None:
    try:
        result = parse_return(filename, data, PROPERTIES, now=LANDS, max_rows=50)
    except ReturnRejected as e:
        assert e.problems
        for p in e.problems:
            rows = f"{p.row}-{p.last_row}" if p.last_row is not None else f"{p.row}"
            assert str(p) == f"{p.file}:{rows}:{p.column}: {p.message}"
            assert p.file == filename and p.row >= 0 and p.column and p.message
            assert p.last_row is None or p.last_row > p.row
    else:
        assert isinstance(result, ParsedReturn)
        assert all(o.period <= "2026-12" for o in result.observations)
        assert all(o.value is None or abs(o.value) <= 1e12 for o in result.observations)


@FUZZ
@given(NAMES, st.binary(max_size=500))
def test_arbitrary_bytes_only_ever_reject(filename, data):
    outcome(filename, data)


@FUZZ
@given(st.sampled_from(["r.csv", "r.json"]), st.text(max_size=500))
def test_arbitrary_text_only_ever_rejects(filename, text):
    outcome(filename, text.encode())


cell = st.one_of(st.sampled_from(TOKENS), st.text(max_size=8))


@FUZZ
@given(st.lists(st.lists(cell, max_size=8), max_size=8), st.sampled_from([",", ", ", "\t"]))
def test_csv_shaped_junk_only_ever_rejects(rows, separator):
    outcome("r.csv", "\n".join(separator.join(r) for r in rows).encode())


@FUZZ
@given(st.lists(st.lists(cell, min_size=7, max_size=7), min_size=1, max_size=6),
       st.sampled_from(["xlsx", "csv"]))
def test_caseload_shaped_junk_only_ever_rejects(rows, ext):
    header = ["provider", "period", "team", "service", "worker", "asye", "caseload"]
    if ext == "csv":
        import csv
        import io

        out = io.StringIO()
        csv.writer(out).writerows([header, *rows])
        outcome("r.csv", out.getvalue().encode())
        return
    import io

    import openpyxl

    book = openpyxl.Workbook()
    for row in [header, *rows]:
        book.active.append([c if not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in c) else "x" for c in row])
    data = io.BytesIO()
    book.save(data)
    outcome("r.xlsx", data.getvalue())


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(TOKENS), st.one_of(cell, st.none(), st.integers(), st.floats(),
                                                                     st.booleans()), max_size=8), max_size=6))
def test_json_shaped_junk_only_ever_rejects(rows):
    import json

    outcome("r.json", json.dumps(rows).encode())


# -- a generated valid KPI return parses to exactly its rows ------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def period_text(year: int, month: int, style: int) -> str:
    return [f"{year}-{month:02d}", f"{MONTHS[month - 1]}-{year % 100:02d}", f"{MONTHS[month - 1]} {year}"][style]


def value_text(value: float | None, unit: str, fancy: bool) -> str:
    if value is None:
        return ""
    if unit == "percent" and fancy:
        return f"{value!r}%"
    if unit == "gbp" and fancy:
        return f'"£{value:,.2f}"'
    if fancy and abs(value) >= 1000:
        return f'"{value:,.2f}"'
    return repr(value)


@st.composite
def kpi_rows(draw):
    cells = draw(st.lists(st.tuples(st.integers(2000, 2099), st.integers(1, 12),
                                    st.sampled_from(["pct_a", "rate_b", "count_c", "num_d", "gbp_e", "PI1", "PI2"])),
                          min_size=1, max_size=30, unique_by=lambda t: (t[0], t[1], CODES.get(t[2], t[2]))))
    rows = []
    for year, month, token in cells:
        unit = UNITS[CODES.get(token, token)]
        if unit == "percent":
            numbers = st.floats(0, 100)
        elif unit in ("count", "rate_per_10000"):
            numbers = st.floats(0, 1e9)
        else:
            numbers = st.floats(-1e9, 1e9)
        value = draw(st.one_of(st.none(), numbers.map(lambda v: round(v, 2))))
        rows.append((year, month, token, unit, value, draw(st.integers(0, 2)), draw(st.booleans())))
    # Percentages all in [0, 1] are fractions, rejected (see below): a valid return has one above 1.
    percent = [i for i, r in enumerate(rows) if r[3] == "percent" and r[4] is not None]
    if len(percent) >= 2 and all(rows[i][4] <= 1 for i in percent):
        rows[percent[0]] = (*rows[percent[0]][:4], 50.0, *rows[percent[0]][5:])
    return rows


@settings(database=None, deadline=None, max_examples=200)
@given(kpi_rows(), st.booleans(), st.sampled_from(["\n", "\r\n"]), st.sampled_from(["sandwell", "Dudley", "nhs-1"]))
def test_generated_valid_kpi_csv_parses_to_exactly_its_rows(rows, bom, newline, provider):
    lines = ["provider,period,indicator,value"]
    lines += [f"{provider},{period_text(y, m, style)},{token},{value_text(v, unit, fancy)}"
              for y, m, token, unit, v, style, fancy in rows]
    data = (("\ufeff" if bom else "") + newline.join(lines) + newline).encode()
    parsed = parse_return("gen.csv", data, PROPERTIES)
    assert parsed.kind == "kpi" and parsed.provider == provider.lower()
    expected = tuple(
        Observation(f"{y:04d}-{m:02d}", CODES.get(token, token), v, i)
        for i, (y, m, token, _unit, v, _style, _fancy) in enumerate(rows, start=2)
    )
    assert parsed.observations == expected
    assert parsed.periods == tuple(sorted({o.period for o in expected}))


# -- scale --------------------------------------------------------------------------------------------------

def test_a_27540_row_kpi_return_parses_quickly():
    lines = ["provider,period,indicator,value"]
    for year in range(2010, 2025):  # 180 months x 153 indicators = 27,540 rows
        for month in range(1, 13):
            lines += [f"sandwell,{year}-{month:02d},ind_{i},\"{i * 1000 + month:,}\"" for i in range(153)]
    data = "\r\n".join(lines).encode()
    start = time.perf_counter()
    parsed = parse_return("big.csv", data, PROPERTIES)
    elapsed = time.perf_counter() - start
    assert len(parsed.observations) == 27_540
    assert elapsed < 3.0, f"took {elapsed:.2f}s"  # ~0.25 s on a dev box; generous for a loaded CI runner


# -- fraction-style percentages are always rejected -----------------------------------------------------------

fraction = st.floats(0, 1).filter(lambda v: v > 0).map(lambda v: round(v, 3)).filter(lambda v: 0 < v <= 1)


@settings(database=None, deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(2020, 2026), st.integers(1, 12), fraction), min_size=2, max_size=20,
                unique_by=lambda t: t[:2]),
       st.lists(st.tuples(st.sampled_from(["rate_b", "count_c", "num_d"]),
                          st.floats(0, 1e6).map(lambda v: round(v, 2))), max_size=5),
       st.sampled_from(["pct_a", "PI1"]))
def test_a_return_whose_percentages_all_lie_in_0_1_is_always_rejected_once(percentages, others, token):
    lines = ["provider,period,indicator,value"]
    lines += [f"sandwell,{y}-{m:02d},{token},{v!r}" for y, m, v in percentages]
    lines += [f"sandwell,2019-{i + 1:02d},{key},{v!r}" for i, (key, v) in enumerate(others)]
    with pytest.raises(ReturnRejected) as e:
        parse_return("f.csv", "\n".join(lines).encode(), PROPERTIES, now=LANDS)
    assert [str(p) for p in e.value.problems] == [
        f"f.csv:2:value: {FRACTIONS} (all {len(percentages)} percentage values in this return lie between 0 and 1, "
        "as fractions do)"]


@settings(database=None, deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(2020, 2026), st.integers(1, 12), st.floats(0, 100).map(lambda v: round(v, 1))),
                min_size=1, max_size=20, unique_by=lambda t: t[:2]),
       st.floats(0, 1).map(lambda v: round(v, 3)))
def test_one_small_percentage_among_others_above_1_is_accepted(percentages, small):
    percentages = [(y, m, max(v, 1.5)) for y, m, v in percentages]  # every other value above 1
    lines = ["provider,period,indicator,value", f"sandwell,2019-01,pct_a,{small!r}"]
    lines += [f"sandwell,{y}-{m:02d},pct_a,{v!r}" for y, m, v in percentages]
    parsed = parse_return("p.csv", "\n".join(lines).encode(), PROPERTIES, now=LANDS)
    assert parsed.observations[0].value == small
