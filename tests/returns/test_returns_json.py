"""parse_return on JSON: an array of row objects, or {"rows": [...]}."""

import json

import pytest

from returns import Observation, ReturnRejected, parse_return
from returns.values import PERIOD_EXPECTED
from tests.returns.catalogs import SMALL


def row(provider="sandwell", period="2024-05", indicator="PI1", value=85):
    return {"provider": provider, "period": period, "indicator": indicator, "value": value}


def parse(doc, filename="r.json"):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_return(filename, data, SMALL)


def problems(doc, filename="r.json") -> list[str]:
    with pytest.raises(ReturnRejected) as e:
        parse(doc, filename)
    return [str(p) for p in e.value.problems]


def test_array_of_objects_with_numbers_strings_and_null():
    parsed = parse([row(value=85.5), row(indicator="cin_rate", value="1,234"), row(period="Jun-24", value=None)])
    assert parsed.observations == (
        Observation("2024-05", "single_assessments_45wd", 85.5, 1),
        Observation("2024-05", "cin_rate", 1234.0, 2),
        Observation("2024-06", "single_assessments_45wd", None, 3),
    )


def test_object_with_rows_and_bom():
    data = b"\xef\xbb\xbf" + json.dumps({"provider": "ignored", "rows": [row(value="85%")]}).encode()
    assert parse(data).observations == (Observation("2024-05", "single_assessments_45wd", 85.0, 1),)


def test_keys_are_case_and_space_insensitive_and_missing_keys_are_null():
    doc = [{" Provider ": "sandwell", "PERIOD": "2024-05", "Indicator": "PI1", "Value": 1}, {
        "Provider": "sandwell", "Period": "2024-06", "Indicator": "PI1"}]
    assert [o.value for o in parse(doc).observations] == [1.0, None]


def test_invalid_json_reports_the_line():
    data = b'[\n  {"provider": "sandwell",\n   "period": "2024-05" "indicator": "PI1"}\n]'
    assert problems(data) == [
        "r.json:3:-: invalid JSON: Expecting ',' delimiter at line 3 column 24 "
        '(expected a JSON array of row objects, or an object with a "rows" array)'
    ]


@pytest.mark.parametrize(
    ("doc", "found"),
    [({"data": []}, 'an object without "rows"'), ({"rows": {}}, 'an object whose "rows" is an object without "rows"'),
     ({"rows": None}, 'an object whose "rows" is null'), ("rows", "a string"),
     (5, "a number"), (None, "null"), (True, "true/false")],
)
def test_not_an_array_of_objects(doc, found):
    assert problems(doc) == [
        f'r.json:0:-: expected a JSON array of row objects, or an object with a "rows" array, got {found}'
    ]


def test_array_items_that_are_not_objects():
    assert problems([row(), [1, 2], "x", 3]) == [
        "r.json:2:-: expected a row object, got an array",
        "r.json:3:-: expected a row object, got a string",
        "r.json:4:-: expected a row object, got a number",
    ]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file (expected a header row and at least one data row)"),
    (b" \n", "empty file (expected a header row and at least one data row)"),
    (b"[]", "no data rows (expected at least one row of data after the header)"),
    (b'{"rows": []}', "no data rows (expected at least one row of data after the header)"),
])
def test_empty(data, message):
    assert problems(data) == [f"r.json:0:-: {message}"]


def test_not_utf8():
    assert problems(b'[{"provider": "sandwell",\n"team": "\xa3"}]') == [
        "r.json:2:-: not UTF-8 text: byte 0xa3 on line 2 cannot be decoded (expected UTF-8; save the file as UTF-8)"
    ]


@pytest.mark.parametrize(("literal", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"),
                                                ("1e400", "1e400"), ('"inf"', "inf")])
def test_non_finite_numbers(literal, shown):
    data = f'[{{"provider": "sandwell", "period": "2024-05", "indicator": "cin_rate", "value": {literal}}}]'.encode()
    assert problems(data) == [f"r.json:1:value: expected a finite number, got {shown!r}"]


def test_row_problems_use_the_object_index_and_the_key_as_written():
    doc = [row(), {"provider": "sandwell", "period": "2024-13", "indicator": "PI99", "Value": "abc"}]
    doc[0]["Value"] = doc[0].pop("value")
    assert problems(doc) == [
        f"r.json:2:period: {PERIOD_EXPECTED}, got '2024-13'",
        "r.json:2:Value: expected a number, got 'abc'",
    ]


def test_unknown_indicator_duplicate_and_second_provider():
    doc = [row(), row(indicator="PI99"), row(indicator="single_assessments_45wd"), row(provider="dudley",
                                                                                       period="2024-06")]
    assert problems(doc) == [
        "r.json:2:indicator: unknown indicator 'PI99' for period 2024-05 "
        "(expected an indicator key or a contract code in force then)",
        "r.json:3:indicator: duplicate row: indicator 'single_assessments_45wd' for 2024-05 was already given on row 1 "
        "(expected one row per period and indicator)",
        "r.json:4:provider: provider 'dudley' differs from 'sandwell' on row 1 (expected one provider per return)",
    ]


def test_header_level_problems_are_row_zero():
    assert problems([{**row(), "note": "x"}]) == [
        "r.json:0:note: unexpected column 'note' (expected only the KPI header provider,period,indicator,value)"
    ]
    assert problems([{"provider": "sandwell", "period": "2024-05", "indicator": "PI1"}]) == [
        "r.json:0:-: missing column 'value' (expected the KPI header provider,period,indicator,value)"
    ]


def test_nested_values_and_booleans_are_reported_not_crashed_on():
    assert problems([row(value=[1]), row(indicator="cin_rate", value=True)]) == [
        "r.json:1:value: expected a number, got '[...]'",
        "r.json:2:value: expected a number, got 'true'",
    ]


def test_caseload_json_with_boolean_asye():
    doc = [{"provider": "sandwell", "period": "2024-05", "team": "T", "service": "court_child_protection",
            "worker": "W1", "asye": False, "caseload": 9}]
    assert parse(doc).observations[0].asye is False


def test_deeply_nested_json_is_a_problem_not_a_crash():
    data = b"[" * 100_000 + b"]" * 100_000
    assert problems(data) == [
        'r.json:0:-: invalid JSON: nested too deeply (expected a JSON array of row objects, or an object with a "rows" '
        "array)"
    ]


def test_same_key_twice_in_one_object():
    data = b'[{"provider": "sandwell", "period": "2024-05", "indicator": "PI1", "value": 1, "Value ": 2}]'
    assert problems(data) == ["r.json:1:Value: duplicate column 'Value' (expected each column once)"]


def test_value_under_a_blank_key():
    assert problems([{**row(), " ": "x"}]) == [
        "r.json:1:-: unexpected value 'x' in a column with no name "
        "(expected only the KPI header provider,period,indicator,value)"
    ]


# -- lone surrogates: "\ud800" is valid JSON but no text a file, database or terminal takes ---------------------

SURROGATE_ROW = '{"provider": "sandwell", "period": "2024-05", "indicator": "PI1", "value": "t\\ud800"}'


def test_a_lone_surrogate_in_a_value_is_located():
    assert problems_of(f"[{SURROGATE_ROW}]") == [
        "r.json:1:value: a value that is not text (character 2 is the lone surrogate U+D800) (expected a number or a "
        "string)"]


def test_a_lone_surrogate_in_a_key_is_located():
    assert problems_of('[{"provider": "sandwell", "period": "2024-05", "indicator": "PI1", "value": 1, '
                       '"\\udfff": 2}]') == [
        "r.json:1:-: a key that is not text (character 1 is the lone surrogate U+DFFF) (expected a column name)"]


def problems_of(text: str) -> list[str]:
    with pytest.raises(ReturnRejected) as e:
        parse_return("r.json", text.encode(), SMALL)
    return [str(p) for p in e.value.problems]


def test_a_lone_surrogate_in_a_caseload_team_is_refused_by_ingest_not_a_traceback(settings):
    from tests.ingesting import ingest_bytes

    data = (b'[{"provider": "sandwell", "period": "2025-03", "team": "t\\ud800", "service": "care_leavers", '
            b'"worker": "Ann", "asye": "no", "caseload": 12}]')
    assert ingest_bytes("c.json", data).errors == [
        "c.json:1:team: a value that is not text (character 2 is the lone surrogate U+D800) (expected a number or a "
        "string)"]
