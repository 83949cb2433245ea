"""parse_return on XLSX workbooks built here with openpyxl."""

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from returns import Observation, ReturnRejected, parse_return
from returns.values import PERIOD_EXPECTED
from tests.returns.catalogs import SMALL

KPI_HEADER = ["provider", "period", "indicator", "value"]


def workbook(*rows, formats=None, extra_sheet_first=False) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    for coordinate, number_format in (formats or {}).items():
        sheet[coordinate].number_format = number_format
    if extra_sheet_first:  # the return is read from whichever sheet comes first
        other = book.create_sheet("Notes", 0)
        other.append(["just", "notes"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parse(data: bytes, filename: str = "r.xlsx"):
    return parse_return(filename, data, SMALL)


def problems(data: bytes, filename: str = "r.xlsx") -> list[str]:
    with pytest.raises(ReturnRejected) as e:
        parse(data, filename)
    return [str(p) for p in e.value.problems]


def test_typed_cells_become_the_text_a_person_typed():
    data = workbook(
        KPI_HEADER,
        ["Sandwell", dt.datetime(2024, 3, 1), "PI1", 0.855],  # 85.5% typed in Excel is 0.855 formatted as %
        ["sandwell", "Mar-24", "cin_rate", 1234],
        ["sandwell", dt.date(2024, 4, 1), "cin_rate", 12.5],
        ["sandwell", "2024-05", "cin_rate", None],
        formats={"D2": "0.0%"},
    )
    parsed = parse(data)
    assert parsed.provider == "sandwell"
    assert parsed.periods == ("2024-03", "2024-04", "2024-05")
    assert parsed.observations == (
        Observation("2024-03", "single_assessments_45wd", 85.5, 2),
        Observation("2024-03", "cin_rate", 1234.0, 3),
        Observation("2024-04", "cin_rate", 12.5, 4),
        Observation("2024-05", "cin_rate", None, 5),
    )


def test_rows_are_sheet_row_numbers_and_blank_rows_are_skipped():
    data = workbook([], [], KPI_HEADER, [], ["sandwell", "2024-05", "PI1", "abc"])
    assert problems(data) == ["r.xlsx:5:value: expected a number, got 'abc'"]


def test_first_sheet_is_the_return():
    data = workbook(KPI_HEADER, ["sandwell", "2024-05", "PI1", 80], extra_sheet_first=True)
    assert problems(data) == [
        "r.xlsx:1:-: unrecognised header 'just,notes' (expected a KPI header provider,period,indicator,value, "
        "a finance header provider,period,measure,value or a caseload header "
        "provider,period,team,service,worker,asye,caseload)"
    ]


def test_caseload_with_boolean_and_numeric_cells():
    data = workbook(
        ["provider", "period", "team", "service", "worker", "asye", "caseload"],
        ["sandwell", dt.datetime(2024, 5, 1), "North", "care_leavers", "W1", True, 14],
        ["sandwell", dt.datetime(2024, 5, 1), "North", "care_leavers", "W2", False, 3.0],
    )
    parsed = parse(data, "R.XLSX")
    assert [(o.worker, o.asye, o.value) for o in parsed.observations] == [("W1", True, 14.0), ("W2", False, 3.0)]


def test_finance_with_numbers_and_text_amounts():
    data = workbook(
        ["provider", "period", "measure", "value"],
        ["sandwell", "2024-05", "contract_sum", 96720000],
        ["sandwell", "2024-05", "ytd_actual", "£1.5m"],
        ["sandwell", "2024-05", "ytd_budget", -1000.5],
    )
    assert [o.value for o in parse(data).observations] == [96_720_000.0, 1_500_000.0, -1000.5]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["sandwell", "2024-05", "PI99", 1],
         "r.xlsx:2:indicator: unknown indicator 'PI99' for period 2024-05 "
         "(expected an indicator key or a contract code in force then)"),
        (["sandwell", "2024-13", "PI1", 1],
         f"r.xlsx:2:period: {PERIOD_EXPECTED}, got '2024-13'"),
        (["sandwell", "2024-05", "PI1", "n/a"], "r.xlsx:2:value: expected a number, got 'n/a'"),
        (["sandwell", "2024-05", "PI1", "#DIV/0!"], "r.xlsx:2:value: expected a number, got '#DIV/0!'"),
        (["sandwell", "2024-05", "cin_rate", "nan"], "r.xlsx:2:value: expected a finite number, got 'nan'"),
        (["sandwell", "2024-05", "cin_rate", "1e400"], "r.xlsx:2:value: expected a finite number, got '1e400'"),
        (["sandwell", "2024-05", "PI1", 101], "r.xlsx:2:value: expected a percentage between 0 and 100, got '101'"),
        (["sandwell", "2024-05", "cin_rate", -4], "r.xlsx:2:value: expected a rate of 0 or more, got '-4'"),
        (["Sand well", "2024-05", "PI1", 1],
         "r.xlsx:2:provider: expected a provider of lower-case letters, digits, '-' or '_' (e.g. sandwell), "
         "got 'Sand well'"),
    ],
)
def test_row_problems(row, message):
    assert problems(workbook(KPI_HEADER, row)) == [message]


def test_percentage_formatted_cell_out_of_range():
    data = workbook(KPI_HEADER, ["sandwell", "2024-05", "PI1", 1.2], formats={"D2": "0%"})
    assert problems(data) == ["r.xlsx:2:value: expected a percentage between 0 and 100, got '120%'"]


def test_duplicate_and_second_provider():
    data = workbook(KPI_HEADER, ["sandwell", "2024-05", "PI1", 1], ["sandwell", "May-24", "single_assessments_45wd", 2],
                    ["dudley", "2024-06", "PI1", 3])
    assert problems(data) == [
        "r.xlsx:3:indicator: duplicate row: indicator 'single_assessments_45wd' for 2024-05 was already given on row 2 "
        "(expected one row per period and indicator)",
        "r.xlsx:4:provider: provider 'dudley' differs from 'sandwell' on row 2 (expected one provider per return)",
    ]


def test_header_problems():
    assert problems(workbook(["provider", "period", "indicator"], ["sandwell", "2024-05", "PI1"])) == [
        "r.xlsx:1:-: missing column 'value' (expected the KPI header provider,period,indicator,value)"
    ]
    assert problems(workbook([*KPI_HEADER, "comment"], ["sandwell", "2024-05", "PI1", 1, "x"])) == [
        "r.xlsx:1:comment: unexpected column 'comment' (expected only the KPI header provider,period,indicator,value)"
    ]


def test_empty_workbook_and_header_only():
    assert problems(workbook()) == ["r.xlsx:0:-: empty file (expected a header row and at least one data row)"]
    assert problems(workbook(KPI_HEADER)) == [
        "r.xlsx:0:-: no data rows (expected at least one row of data after the header)"
    ]


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    return out.getvalue()


@pytest.mark.parametrize(
    "data", [b"", b"provider,period,indicator,value\n", b"PK\x03\x04garbage", _zip_without_workbook()]
)
def test_not_a_workbook_is_a_clear_problem(data):
    assert problems(data) == ["r.xlsx:0:-: not a valid .xlsx workbook (expected an Excel workbook saved as .xlsx)"]


def test_truncated_workbook_is_a_clear_problem():
    data = workbook(KPI_HEADER, ["sandwell", "2024-05", "PI1", 1])
    assert problems(data[: len(data) // 2]) == [
        "r.xlsx:0:-: not a valid .xlsx workbook (expected an Excel workbook saved as .xlsx)"
    ]
