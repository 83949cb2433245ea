"""The demo's example returns, rated by the real engine, agree with every published figure
for FY2024-25 (min, max, year-end, months in each band, 10/5/0 at 31 March 2025)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from alerts.cli.demo import example_files
from alerts.digest.compose import position_sentence
from alerts.store.db import session_for
from alerts.store.models import RatingRecord
from tests.conftest import EXAMPLES
from tests.ingesting import ingest_path

PUBLISHED = json.loads((EXAMPLES / "published.json").read_text())


@pytest.fixture
def rated(settings):
    for path in example_files(EXAMPLES):
        result = ingest_path(path)
        assert not result.errors, result.errors
        assert result.landed.status == "accepted"
    with session_for(settings.database_url) as s:
        rows = s.execute(select(RatingRecord).where(RatingRecord.current, RatingRecord.kind == "kpi")).scalars()
        series: dict[str, dict[str, RatingRecord]] = {}
        for r in rows:
            series.setdefault(r.rule_id, {})[r.period] = r
    return series


def test_every_kpi_agrees_with_published_figures(rated):
    assert len(PUBLISHED["kpis"]) == 15
    for code, facts in PUBLISHED["kpis"].items():
        series = rated[facts["key"]]
        assert sorted(series) == PUBLISHED["periods"], code
        values = {p: r.value for p, r in series.items()}
        for stat, pick in (("min", min), ("max", max)):
            if facts.get(stat):
                assert pick(values.values()) == pytest.approx(facts[stat]["value"]), (code, stat)
                if facts[stat]["period"]:
                    assert values[facts[stat]["period"]] == pytest.approx(facts[stat]["value"]), (code, stat)
        if facts.get("year_end"):
            assert values["2025-03"] == pytest.approx(facts["year_end"]["value"], abs=0.05), code
        if facts.get("average"):
            mean = sum(values.values()) / len(values)
            assert mean == pytest.approx(facts["average"]["value"], abs=facts["average"]["tolerance"]), code
        bands = Counter(r.rating for r in series.values())
        assert {k: bands[k] for k in ("green", "amber", "red")} == facts["months_in_band"], code
        for period, band in (facts.get("band_in_month") or {}).items():
            assert series[period].rating == band, (code, period)


def test_year_end_position_is_10_5_0(rated):
    position = Counter(rated[f["key"]]["2025-03"].rating for f in PUBLISHED["kpis"].values())
    assert position == Counter({"green": 10, "amber": 5})
    assert position_sentence(position) == "10 KPIs on target, 5 within tolerance, none in failure"
