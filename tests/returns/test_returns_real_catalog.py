"""parse_return against the real rules.catalog.Catalog (built from two small packs), to
check the protocol returns/ relies on is the one the catalogue provides."""

import pytest

from returns import ReturnRejected, parse_return
from rules.catalog import Catalog
from rules.model import Pack

BANDS = {"green": [{"gte": 80}], "amber": [{"gte": 70, "lt": 80}], "red": [{"lt": 70}]}


def rule(rule_id, code, unit="percent"):
    return {"id": rule_id, "name": rule_id, "kind": "kpi", "code": code, "unit": unit, "polarity": "higher_is_better",
            "versions": [{"effective_from": "2018-04-01", "bands": BANDS}]}


@pytest.fixture(scope="module")
def catalog():
    old = Pack.model_validate({
        "pack": "contract-2018", "title": "2018 suite", "suite": "contract-2018", "effective_from": "2018-04-01",
        "effective_to": "2022-03-31",
        "rules": [rule("single_assessments_45wd", "PI4"), rule("repeat_referrals", "PI1")],
    })
    new = Pack.model_validate({
        "pack": "contract-2022", "title": "2022 suite", "suite": "contract-2022", "effective_from": "2022-04-01",
        "rules": [rule("single_assessments_45wd", "PI1")],
        "inputs": [{"key": "children_in_care", "name": "Children in care", "kind": "kpi", "unit": "count"}],
    })
    return Catalog([old, new])


def test_codes_resolve_by_the_suite_in_force(catalog):
    data = (b"provider,period,indicator,value\nsandwell,Mar-22,PI4,71\nsandwell,Mar-22,PI1,12\n"
            b"sandwell,Apr-22,PI1,81\nsandwell,Apr-22,children_in_care,850\n")
    parsed = parse_return("r.csv", data, catalog)
    assert [(o.period, o.measure, o.value) for o in parsed.observations] == [
        ("2022-03", "single_assessments_45wd", 71.0),
        ("2022-03", "repeat_referrals", 12.0),
        ("2022-04", "single_assessments_45wd", 81.0),
        ("2022-04", "children_in_care", 850.0),
    ]


def test_retired_code_is_unknown_and_units_come_from_the_catalogue(catalog):
    data = b"provider,period,indicator,value\nsandwell,2024-05,PI4,1\nsandwell,2024-05,children_in_care,-1\n"
    with pytest.raises(ReturnRejected) as e:
        parse_return("r.csv", data, catalog)
    assert [str(p) for p in e.value.problems] == [
        "r.csv:2:indicator: unknown indicator 'PI4' for period 2024-05 "
        "(expected an indicator key or a contract code in force then)",
        "r.csv:3:value: expected a count of 0 or more, got '-1'",
    ]


def test_finance_measures_are_accepted_though_no_pack_lists_them(catalog):
    data = b"provider,period,measure,value\nsandwell,2024-05,contract_sum,\xc2\xa396.72m\n"
    parsed = parse_return("r.csv", data, catalog)
    assert [(o.measure, o.value) for o in parsed.observations] == [("contract_sum", 96_720_000.0)]
