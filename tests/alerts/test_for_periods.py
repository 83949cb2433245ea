"""`for_periods`: N consecutive non-green months before an alert opens; ratings recorded every month."""

from __future__ import annotations

import textwrap

import pytest

from config import Settings, use_settings
from tests.conftest import kpi_csv
from tests.ingesting import land_json
from tests.packs import demo_pack

PACK = demo_pack("    for_periods: 3\n", "2024-01-01")


@pytest.fixture
def demo_pack(tmp_path, new_database):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "demo.yaml").write_text(textwrap.dedent(PACK))
    use_settings(Settings(database_url=new_database('t.db'), broker_url="", rules_dir=rules))
    yield
    use_settings(None)


def land(period: str, value: str) -> dict:
    return land_json(f"{period}.csv", kpi_csv([(period, "demo_kpi", value)]))


def test_opens_on_third_consecutive_month(demo_pack):
    assert land("2024-04", "80")["transitions"] == []
    assert land("2024-05", "60")["evaluations"][0]["rating"] == "red"  # recorded regardless
    assert land("2024-05", "60")["return"]["status"] == "duplicate"
    third = land("2024-06", "75")
    assert third["transitions"] == [{"rule": "demo_kpi", "subject": "sandwell", "from": "green", "to": "amber",
                                     "kind": "opened", "period": "2024-06"}]


def test_a_green_month_or_a_missing_month_restarts_the_count(demo_pack):
    land("2024-04", "80")
    land("2024-05", "90")
    land("2024-06", "80")
    assert land("2024-07", "80")["transitions"] == []  # only 2 in a row
    assert land("2024-09", "80")["transitions"] == []  # August missing: streak restarts


def test_late_month_completes_a_streak(demo_pack):
    land("2024-04", "80")
    land("2024-06", "80")
    late = land("2024-05", "80")  # fills the gap: Apr-May-Jun now three in a row
    assert [t["kind"] for t in late["transitions"]] == ["opened"]


def test_a_pack_scoped_to_providers_rates_only_them(tmp_path, new_database):
    rules = tmp_path / "scoped"
    rules.mkdir()
    scoped = textwrap.dedent(PACK).replace("title: Demo\n", "title: Demo\nproviders: [dudley]\n")
    (rules / "demo.yaml").write_text(scoped)
    use_settings(Settings(database_url=new_database('s.db'), broker_url="", rules_dir=rules))
    try:
        dudley = land_json("d.csv", kpi_csv([("2024-04", "demo_kpi", "60")], provider="dudley"))
        assert [e["rating"] for e in dudley["evaluations"]] == ["red"]
        other = land_json("s.csv", kpi_csv([("2024-04", "demo_kpi", "60")]))
        assert other["return"]["status"] == "accepted" and other["evaluations"] == []
    finally:
        use_settings(None)
