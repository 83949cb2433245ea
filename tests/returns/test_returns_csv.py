"""parse_return on CSV: accepted shapes, and every problem with its exact message."""


import pytest

from returns import Observation, ParsedReturn, ReturnProblem, ReturnRejected, parse_return
from returns.values import PERIOD_EXPECTED
from tests.returns.catalogs import SMALL

HEADER = "provider,period,indicator,value\n"
FINANCE = "provider,period,measure,value\n"
CASELOAD = "provider,period,team,service,worker,asye,caseload\n"


def parse(text: str | bytes, filename: str = "r.csv") -> ParsedReturn:
    data = text.encode() if isinstance(text, str) else text
    return parse_return(filename, data, SMALL)


def problems(text: str | bytes, filename: str = "r.csv") -> list[str]:
    with pytest.raises(ReturnRejected) as e:
        parse(text, filename)
    assert str(e.value) == "\n".join(str(p) for p in e.value.problems)
    return [str(p) for p in e.value.problems]


def one_problem(text: str | bytes, filename: str = "r.csv") -> str:
    found = problems(text, filename)
    assert len(found) == 1, found
    return found[0]


# -- accepted returns ---------------------------------------------------------------------------------------

def test_kpi_return_parses_to_observations():
    parsed = parse(HEADER + "Sandwell ,2024-05,PI1,85.5%\nsandwell,2024-05,cin_rate,\"1,234.5\"\n")
    assert parsed == ParsedReturn(
        filename="r.csv",
        kind="kpi",
        provider="sandwell",
        periods=("2024-05",),
        observations=(
            Observation("2024-05", "single_assessments_45wd", 85.5, 2),
            Observation("2024-05", "cin_rate", 1234.5, 3),
        ),
        sha256=parsed.sha256,
    )
    assert len(parsed.sha256) == 64


def test_sha256_is_of_the_raw_bytes():
    import hashlib

    data = (HEADER + "sandwell,2024-05,PI1,85\n").encode()
    assert parse(data).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_bom_and_line_endings_are_all_accepted(prefix, newline):
    data = prefix + newline.join([b"provider,period,indicator,value", b"sandwell,Mar-24,PI1,85", b""])
    parsed = parse(data)
    assert parsed.observations == (Observation("2024-03", "single_assessments_45wd", 85.0, 2),)


def test_header_is_order_case_and_space_insensitive():
    parsed = parse(" Value ,INDICATOR, period ,Provider\n85,PI1,2024-05,sandwell\n")
    assert parsed.observations == (Observation("2024-05", "single_assessments_45wd", 85.0, 2),)


def test_blank_value_is_not_reported_never_zero():
    parsed = parse(HEADER + "sandwell,2024-05,PI1,\nsandwell,2024-05,cin_rate,   \n")
    assert [o.value for o in parsed.observations] == [None, None]


def test_period_styles_normalise_and_periods_are_sorted_unique():
    parsed = parse(HEADER + "sandwell,Mar-24,PI1,1\nsandwell,March 2024,cin_rate,2\nsandwell,Feb 24,PI1,3\n"
                            "sandwell,2024-1,PI1,4\n")
    assert parsed.periods == ("2024-01", "2024-02", "2024-03")
    assert [o.period for o in parsed.observations] == ["2024-03", "2024-03", "2024-02", "2024-01"]


def test_contract_code_resolves_by_period():
    parsed = parse(HEADER + "sandwell,2021-05,PI4,70\nsandwell,2022-05,PI1,80\n")
    assert [o.measure for o in parsed.observations] == ["single_assessments_45wd"] * 2


def test_blank_rows_and_quoted_cells_are_fine():
    parsed = parse(HEADER + ",,,\n\n\"sandwell\",\"2024-05\",\"PI1\",\"85\"\n,,,\n")
    assert parsed.observations == (Observation("2024-05", "single_assessments_45wd", 85.0, 4),)



def test_other_kpi_units_parse():
    parsed = parse(HEADER + "sandwell,2024-05,agency_spend,£1.2m\nsandwell,2024-05,avg_days_to_court,-3.5\n"
                            "sandwell,2024-05,children_in_care,\"1,020\"\n")
    assert [o.value for o in parsed.observations] == [1_200_000.0, -3.5, 1020.0]


def test_finance_return():
    parsed = parse(FINANCE + "sandwell,2024-05,contract_sum,£96.72m\nsandwell,2024-05,other_income,\"£500k\"\n"
                             "sandwell,2024-05,ytd_budget,\"96,720,000\"\nsandwell,2024-05,ytd_actual,\"(1,000)\"\n"
                             "sandwell,2024-05,Forecast_Outturn,£1.2bn\nsandwell,2024-06,ytd_actual,\n")
    assert parsed.kind == "finance"
    assert [(o.measure, o.value) for o in parsed.observations] == [
        ("contract_sum", 96_720_000.0),
        ("other_income", 500_000.0),
        ("ytd_budget", 96_720_000.0),
        ("ytd_actual", -1_000.0),
        ("forecast_outturn", 1_200_000_000.0),
        ("ytd_actual", None),
    ]


def test_finance_value_with_unquoted_thousands_is_extra_cells():
    # An unquoted 96,720,000 is three cells in CSV: say so rather than guess.
    assert one_problem(FINANCE + "sandwell,2024-05,contract_sum,96,720,000\n") == (
        "r.csv:2:-: unexpected value '720' in a column with no name "
        "(expected only the finance header provider,period,measure,value)"
    )


def test_caseload_return():
    parsed = parse(CASELOAD + "sandwell,2024-05,North 1,assessment_intervention,W001,yes,18\n"
                              "sandwell,2024-05,North 1,Care_Leavers,W002,N,\n"
                              "sandwell,2024-05,=Team,children_we_care_for,@w3,1,0\n")
    assert parsed.kind == "caseload"
    assert parsed.observations == (
        Observation("2024-05", "caseload", 18.0, 2, team="North 1", service="assessment_intervention", worker="W001",
                    asye=True),
        Observation("2024-05", "caseload", None, 3, team="North 1", service="care_leavers", worker="W002", asye=False),
        Observation("2024-05", "caseload", 0.0, 4, team="=Team", service="children_we_care_for", worker="@w3",
                    asye=True),
    )


def test_file_extension_is_case_insensitive():
    assert parse(HEADER + "sandwell,2024-05,PI1,1\n", "uploads/R.CSV").kind == "kpi"


# -- file-level problems ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["r.txt", "r.TXT"])
def test_unsupported_file_type(name):
    ext = name[-4:]
    assert one_problem("x", name) == f"{name}:0:-: unsupported file type {ext!r} (expected .csv, .xlsx or .json)"


def test_no_extension():
    assert one_problem("x", "return") == (
        "return:0:-: unsupported file type: the name has no extension (expected .csv, .xlsx or .json)"
    )


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n ", b",,,\n,,\n"])
def test_empty_file(data):
    assert one_problem(data) == "r.csv:0:-: empty file (expected a header row and at least one data row)"


@pytest.mark.parametrize("data", [HEADER, HEADER + ",,,\n\n"])
def test_header_without_data_rows(data):
    assert one_problem(data) == "r.csv:0:-: no data rows (expected at least one row of data after the header)"


def test_not_utf8_reports_the_line():
    data = HEADER.encode() + b"sandwell,2024-05,PI1,85\nsandwell,2024-05,agency_spend,\xa3500\n"
    assert one_problem(data) == (
        "r.csv:3:-: not UTF-8 text: byte 0xa3 on line 3 cannot be decoded (expected UTF-8; save the file as CSV UTF-8)"
    )


def test_utf16_is_not_utf8():
    assert one_problem(HEADER.encode("utf-16")) == (
        "r.csv:1:-: not UTF-8 text: byte 0xff on line 1 cannot be decoded (expected UTF-8; save the file as CSV UTF-8)"
    )


def test_unrecognised_header_lists_the_three_headers():
    assert one_problem("name,amount\nx,1\n") == (
        "r.csv:1:-: unrecognised header 'name,amount' (expected a KPI header provider,period,indicator,value, "
        "a finance header provider,period,measure,value or a caseload header "
        "provider,period,team,service,worker,asye,caseload)"
    )


def test_missing_column_names_it_and_the_expected_header():
    assert one_problem("provider,period,indicator\nsandwell,2024-05,PI1\n") == (
        "r.csv:1:-: missing column 'value' (expected the KPI header provider,period,indicator,value)"
    )


def test_missing_columns_plural():
    assert one_problem("provider,period,team,service,asye,caseload\n") == (
        "r.csv:1:-: missing column 'worker' (expected the caseload header "
        "provider,period,team,service,worker,asye,caseload)"
    )
    assert one_problem("Provider,Measure\n") == (
        "r.csv:1:-: missing columns 'period', 'value' (expected the finance header provider,period,measure,value)"
    )


def test_extra_column_is_an_error():
    assert one_problem("provider,period,indicator,value,Notes\nsandwell,2024-05,PI1,1,x\n") == (
        "r.csv:1:Notes: unexpected column 'Notes' (expected only the KPI header provider,period,indicator,value)"
    )


def test_duplicate_column():
    assert one_problem("provider,period,indicator,value,Value \nsandwell,2024-05,PI1,1,2\n") == (
        "r.csv:1:Value: duplicate column 'Value' (expected each column once)"
    )


def test_header_after_blank_lines_reports_its_own_row():
    assert one_problem("\n\nprovider,period,indicator\n") == (
        "r.csv:3:-: missing column 'value' (expected the KPI header provider,period,indicator,value)"
    )


# -- row problems: KPI --------------------------------------------------------------------------------------

def test_unknown_indicator_names_token_and_period():
    assert one_problem(HEADER + "sandwell,2024-05,PI99,1\n") == (
        "r.csv:2:indicator: unknown indicator 'PI99' for period 2024-05 "
        "(expected an indicator key or a contract code in force then)"
    )


def test_code_not_in_force_for_that_period_is_unknown():
    assert one_problem(HEADER + "sandwell,2024-05,PI4,1\n") == (
        "r.csv:2:indicator: unknown indicator 'PI4' for period 2024-05 "
        "(expected an indicator key or a contract code in force then)"
    )


def test_blank_indicator():
    assert one_problem(HEADER + "sandwell,2024-05,,1\n") == (
        "r.csv:2:indicator: expected an indicator key or contract code (e.g. PI1), got a blank cell"
    )


@pytest.mark.parametrize("period", ["2024-13", "May", "2024/05", "13-2024"])
def test_bad_period(period):
    assert one_problem(HEADER + f"sandwell,{period},PI1,1\n") == (
        f"r.csv:2:period: {PERIOD_EXPECTED}, got {period!r}"
    )


def test_blank_period():
    assert one_problem(HEADER + "sandwell,,PI1,1\n") == (
        f"r.csv:2:period: {PERIOD_EXPECTED}, got a blank cell"
    )


def test_non_numeric_value():
    assert one_problem(HEADER + "sandwell,2024-05,cin_rate,abc\n") == "r.csv:2:value: expected a number, got 'abc'"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity", "1e400"])
def test_nan_and_infinite_values(value):
    assert one_problem(HEADER + f"sandwell,2024-05,avg_days_to_court,{value}\n") == (
        f"r.csv:2:value: expected a finite number, got {value!r}"
    )


@pytest.mark.parametrize("value", ["100.1", "-1", "120%"])
def test_percentage_outside_0_to_100(value):
    assert one_problem(HEADER + f"sandwell,2024-05,PI1,{value}\n") == (
        f"r.csv:2:value: expected a percentage between 0 and 100, got {value!r}"
    )


def test_percentage_edges_are_fine():
    assert [o.value for o in parse(HEADER + "sandwell,2024-05,PI1,0%\nsandwell,2024-06,PI1,100\n").observations] == [
        0.0,
        100.0,
    ]


def test_negative_count():
    assert one_problem(HEADER + "sandwell,2024-05,PI3,-2\n") == "r.csv:2:value: expected a count of 0 or more, got '-2'"


def test_negative_rate():
    assert one_problem(HEADER + "sandwell,2024-05,cin_rate,-0.5\n") == (
        "r.csv:2:value: expected a rate of 0 or more, got '-0.5'"
    )


def test_percent_sign_on_a_count():
    assert one_problem(HEADER + "sandwell,2024-05,PI3,12%\n") == "r.csv:2:value: expected a number, got '12%'"


def test_duplicate_row_names_the_earlier_row():
    assert one_problem(HEADER + "sandwell,2024-05,cin_rate,1\nsandwell,2024-06,cin_rate,1\n"
                                "sandwell,May-24,cin_rate,2\n") == (
        "r.csv:4:indicator: duplicate row: indicator 'cin_rate' for 2024-05 was already given on row 2 "
        "(expected one row per period and indicator)"
    )


def test_code_and_its_key_are_the_same_indicator():
    assert one_problem(HEADER + "sandwell,2024-05,single_assessments_45wd,1\nsandwell,2024-05,pi1,2\n") == (
        "r.csv:3:indicator: duplicate row: indicator 'pi1' (single_assessments_45wd) for 2024-05 was already given "
        "on row 2 (expected one row per period and indicator)"
    )


def test_more_than_one_provider_names_both():
    assert one_problem(HEADER + "sandwell,2024-05,PI1,1\ndudley,2024-05,cin_rate,1\n") == (
        "r.csv:3:provider: provider 'dudley' differs from 'sandwell' on row 2 (expected one provider per return)"
    )


@pytest.mark.parametrize(("cell", "found"), [("", "a blank cell"), ("Sand well", "'Sand well'"),
                                             ("-sandwell", "'-sandwell'"), ("=cmd()", "'=cmd()'")])
def test_bad_provider(cell, found):
    assert one_problem(HEADER + f"{cell},2024-05,PI1,1\n") == (
        f"r.csv:2:provider: expected a provider of lower-case letters, digits, '-' or '_' (e.g. sandwell), got {found}"
    )


def test_every_problem_is_collected_in_row_order():
    found = problems(HEADER + "sandwell,2024-05,PI99,abc\nsandwell,2024-13,PI1,1\nsandwell,2024-05,PI3,-1\n")
    assert found == [
        "r.csv:2:indicator: unknown indicator 'PI99' for period 2024-05 "
        "(expected an indicator key or a contract code in force then)",
        "r.csv:2:value: expected a number, got 'abc'",
        f"r.csv:3:period: {PERIOD_EXPECTED}, got '2024-13'",
        "r.csv:4:value: expected a count of 0 or more, got '-1'",
    ]


def test_problem_columns_are_as_written_in_the_file():
    assert one_problem("Provider,PERIOD,Indicator,Value\nsandwell,2024-05,PI1,abc\n") == (
        "r.csv:2:Value: expected a number, got 'abc'"
    )


def test_problem_objects():
    with pytest.raises(ReturnRejected) as e:
        parse(HEADER + "sandwell,2024-05,PI1,abc\n")
    assert e.value.problems == [ReturnProblem("r.csv", 2, "value", "expected a number, got 'abc'")]


def test_stray_cell_beyond_the_header():
    assert one_problem(HEADER + "sandwell,2024-05,PI1,1,oops\n") == (
        "r.csv:2:-: unexpected value 'oops' in a column with no name "
        "(expected only the KPI header provider,period,indicator,value)"
    )


def test_trailing_empty_cells_are_ignored():
    assert parse(HEADER + "sandwell,2024-05,PI1,1,,\n").observations[0].value == 1.0


# -- row problems: finance ----------------------------------------------------------------------------------

def test_unknown_finance_measure():
    assert one_problem(FINANCE + "sandwell,2024-05,income,1\n") == (
        "r.csv:2:measure: unknown finance measure 'income' (expected one of contract_sum, other_income, ytd_budget, "
        "ytd_actual, forecast_outturn)"
    )


def test_blank_finance_measure():
    assert one_problem(FINANCE + "sandwell,2024-05,,1\n") == (
        "r.csv:2:measure: expected a finance measure (one of contract_sum, other_income, ytd_budget, ytd_actual, "
        "forecast_outturn), got a blank cell"
    )


def test_bad_money():
    assert one_problem(FINANCE + "sandwell,2024-05,ytd_actual,lots\n") == (
        "r.csv:2:value: expected an amount in pounds (e.g. 96720000, 96,720,000, £96.72m, £500k or (1,000)), "
        "got 'lots'"
    )


def test_non_finite_money():
    assert one_problem(FINANCE + "sandwell,2024-05,ytd_actual,1e400\n") == (
        "r.csv:2:value: expected a finite number, got '1e400'"
    )


def test_duplicate_finance_row():
    assert one_problem(FINANCE + "sandwell,2024-05,ytd_actual,1\nsandwell,May-24,YTD_ACTUAL,2\n") == (
        "r.csv:3:measure: duplicate row: measure 'YTD_ACTUAL' for 2024-05 was already given on row 2 "
        "(expected one row per period and measure)"
    )


# -- row problems: caseload ---------------------------------------------------------------------------------

def caseload_row(team="North 1", service="assessment_intervention", worker="W001", asye="no", caseload="12"):
    return f"sandwell,2024-05,{team},{service},{worker},{asye},{caseload}\n"


def test_bad_service():
    assert one_problem(CASELOAD + caseload_row(service="fostering")) == (
        "r.csv:2:service: expected a service (one of assessment_intervention, court_child_protection, "
        "children_we_care_for, care_leavers), got 'fostering'"
    )


@pytest.mark.parametrize(("cell", "found"), [("maybe", "'maybe'"), ("", "a blank cell")])
def test_bad_asye(cell, found):
    assert one_problem(CASELOAD + caseload_row(asye=cell)) == (
        f"r.csv:2:asye: expected true or false (or yes/no, y/n, 1/0), got {found}"
    )


def test_negative_caseload():
    assert one_problem(CASELOAD + caseload_row(caseload="-1")) == (
        "r.csv:2:caseload: expected a caseload of 0 or more, got '-1'"
    )


def test_fractional_caseload():
    assert one_problem(CASELOAD + caseload_row(caseload="2.5")) == (
        "r.csv:2:caseload: expected a whole number of cases, got '2.5'"
    )


def test_non_numeric_caseload():
    assert one_problem(CASELOAD + caseload_row(caseload="many")) == "r.csv:2:caseload: expected a number, got 'many'"


@pytest.mark.parametrize("column", ["team", "worker"])
def test_blank_team_or_worker(column):
    what = {"team": "a team name", "worker": "a worker name or ID"}[column]
    assert one_problem(CASELOAD + caseload_row(**{column: " "})) == (
        f"r.csv:2:{column}: expected {what} of 1 to 100 characters, got a blank cell"
    )


def test_overlong_team():
    assert one_problem(CASELOAD + caseload_row(team="x" * 101)) == (
        "r.csv:2:team: expected a team name of 1 to 100 characters, got 101 characters"
    )


def test_duplicate_worker_in_a_period():
    assert one_problem(CASELOAD + caseload_row() + caseload_row(worker="w001", team="South")) == (
        "r.csv:3:worker: duplicate row: worker 'w001' for 2024-05 was already given on row 2 "
        "(expected one row per period and worker)"
    )


def test_rejection_survives_pickling():
    import pickle

    with pytest.raises(ReturnRejected) as e:
        parse(HEADER + "sandwell,2024-05,PI1,abc\n")
    copy = pickle.loads(pickle.dumps(e.value))
    assert copy.problems == e.value.problems and str(copy) == str(e.value)


def test_long_cells_are_cut_short_in_messages():
    assert one_problem(HEADER + "sandwell,2024-05,PI1," + "9" * 200 + "x\n") == (
        "r.csv:2:value: expected a number, got '" + "9" * 77 + "...'"
    )
