"""Return -> rules -> alerts, through the real ingest path on SQLite (tasks in-process)."""

from __future__ import annotations

from sqlalchemy import func, select

from alerts.indicators import rules_for_indicator
from alerts.store.db import session_for
from alerts.store.models import Alert, AlertEvent, Observation, RatingRecord, ReturnRecord
from alerts.store.queries import current_status, history
from rules.loader import load_catalog
from tests.conftest import kpi_csv
from tests.ingesting import as_json, ingest_bytes, land_json


def counts(settings) -> dict[str, int]:
    with session_for(settings.database_url) as s:
        return {m.__tablename__: s.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (ReturnRecord, Observation, RatingRecord, Alert, AlertEvent)}


def alert(settings, rule_id: str, subject: str = "sandwell") -> Alert | None:
    with session_for(settings.database_url) as s:
        return s.execute(select(Alert).where(Alert.rule_id == rule_id, Alert.subject == subject)).scalar_one_or_none()


def test_a_breach_opens_escalates_deescalates_and_resolves(settings):
    # PI1 (2024 suite): green >= 85, amber 70 to 85, red below 70; the rating is known independently
    steps = [("2024-04", "80", "amber", None, "amber", "opened"),
             ("2024-05", "68.8", "red", "amber", "red", "escalated"),
             ("2024-06", "75", "amber", "red", "amber", "deescalated"),
             ("2024-07", "75.5", "amber", None, None, None),
             ("2024-08", "85", "green", "amber", "green", "resolved")]
    for period, value, rating, frm, to, kind in steps:
        result = ingest_bytes(f"kpi-{period}.csv", kpi_csv([(period, "PI1", value)]))
        data = as_json(result)
        assert data["return"]["status"] == "accepted"
        assert data["evaluations"] == [{"rule": "single_assessments_45wd", "indicator": "single_assessments_45wd",
                                        "code": "PI1", "suite": "2024", "subject": "sandwell", "period": period,
                                        "value": float(value), "rating": rating}]
        expected = [] if kind is None else [{"rule": "single_assessments_45wd", "subject": "sandwell",
                                             "from": frm, "to": to, "kind": kind, "period": period}]
        assert data["transitions"] == expected
    a = alert(settings, "single_assessments_45wd")
    assert (a.state, a.period, a.since_period) == ("green", "2024-08", "2024-08")


def test_duplicate_file_changes_nothing(settings):
    data = kpi_csv([("2024-04", "PI1", "80")])
    first = land_json("a.csv", data)
    before = counts(settings)
    again = land_json("renamed.csv", data)
    assert again["return"] == {**first["return"], "status": "duplicate"}
    assert again["evaluations"] == [] and again["transitions"] == []
    assert counts(settings) == before


def test_restatement_supersedes_and_alert_follows_corrected_value(settings):
    ingest_bytes("a.csv", kpi_csv([("2024-04", "PI1", "65"), ("2024-04", "PI2", "80")]))
    assert alert(settings, "single_assessments_45wd").state == "red"
    restated = land_json("a-corrected.csv", kpi_csv([("2024-04", "PI1", "86")]))
    assert restated["return"]["status"] == "restated"
    assert restated["transitions"] == [{"rule": "single_assessments_45wd", "subject": "sandwell", "from": "red",
                                        "to": "green", "kind": "resolved", "period": "2024-04"}]
    with session_for(settings.database_url) as s:
        obs = s.execute(select(Observation.value, Observation.current).where(
            Observation.measure == "single_assessments_45wd").order_by(Observation.id)).all()
        assert [tuple(o) for o in obs] == [(65.0, False), (86.0, True)]  # old value kept in history
        # the restatement superseded the whole period: PI2 was not restated, so it is no longer current
        current = s.execute(select(RatingRecord.rule_id, RatingRecord.value).where(RatingRecord.current)).all()
        assert [tuple(r) for r in current] == [("single_assessments_45wd", 86.0)]


def test_late_return_for_older_period_does_not_override_newer(settings):
    ingest_bytes("jun.csv", kpi_csv([("2024-06", "PI1", "90")]))
    late = land_json("apr.csv", kpi_csv([("2024-04", "PI1", "60")]))
    assert late["evaluations"][0]["rating"] == "red"
    assert late["transitions"] == []
    a = alert(settings, "single_assessments_45wd")
    assert (a.state, a.period) == ("green", "2024-06")
    with session_for(settings.database_url) as s:
        rule_ids = rules_for_indicator(load_catalog(settings.rules_dir), "PI1")
        series = [(r.period, r.rating) for r in history(s, rule_ids)]
    assert series == [("2024-04", "red"), ("2024-06", "green")]


def test_codes_resolve_per_suite(settings):
    # PI4 is single assessments in the 2018 suite; PI1 in 2024 is the same measure
    old = land_json("2019.csv", kpi_csv([("2019-05", "PI4", "74")]))
    assert [(e["rule"], e["code"], e["suite"], e["rating"]) for e in old["evaluations"]] == [
        ("single_assessments_45wd_2018", "PI4", "2018", "red")]  # 2018 tolerance floor was 75
    new = land_json("2024.csv", kpi_csv([("2024-05", "PI1", "74")]))
    assert [(e["rule"], e["code"], e["rating"]) for e in new["evaluations"]] == [
        ("single_assessments_45wd", "PI1", "amber")]  # 2024 floor is 70


def test_unrated_kpi_is_tracked_without_alert(settings):
    out = land_json("2019.csv", kpi_csv([("2019-05", "PI6", "52.3")]))  # 2018 PI6: no bands
    assert [(e["rule"], e["rating"]) for e in out["evaluations"]] == [("cp_visits_on_time", None)]
    assert out["transitions"] == []
    assert counts(settings)["alerts"] == 0


def test_derived_rate_from_counts_and_reported_rate_wins(settings):
    rows = [("2025-03", "children_we_care_for", "816"), ("2025-03", "population_under_18", "86835")]
    out = land_json("counts.csv", kpi_csv(rows))
    assert [(e["rule"], round(e["value"], 2), e["rating"]) for e in out["evaluations"]] == [
        ("cwcf_rate_per_10k_derived", 93.97, "green")]
    both = land_json("both.csv", kpi_csv(rows + [("2025-03", "PI7", "96")]))
    assert [(e["rule"], e["value"]) for e in both["evaluations"]] == [("cwcf_rate_per_10k", 96.0)]


def test_blank_value_is_not_reported_not_zero(settings):
    out = land_json("blank.csv", kpi_csv([("2024-04", "PI1", ""), ("2024-04", "PI2", "80")]))
    assert [e["rule"] for e in out["evaluations"]] == ["cin_visits_on_time"]


def test_rejected_return_stores_nothing(settings):
    bad = kpi_csv([("2024-04", "PI1", "80"), ("2024-13", "PI1", "80"), ("2024-04", "PI99", "x")])
    result = ingest_bytes("bad.csv", bad)
    assert result.landed is None
    assert len(result.errors) >= 2 and all(e.startswith("bad.csv:") for e in result.errors)
    assert as_json(result)["return"] == {"file": "bad.csv", "status": "rejected"}
    assert counts(settings) == {"returns": 0, "observations": 0, "ratings": 0, "alerts": 0, "alert_events": 0}


def test_evaluation_is_idempotent(settings):
    from alerts.store.models import utcnow
    from alerts.usecases.evaluate import evaluate_return

    first = ingest_bytes("a.csv", kpi_csv([("2024-04", "PI1", "60")]))
    before = counts(settings)
    with session_for(settings.database_url) as s:
        again = evaluate_return(s, load_catalog(settings.rules_dir), first.landed.return_id, utcnow())
    assert again.transitions == first.outcome.transitions
    assert counts(settings) == before


def test_finance_and_caseload_returns(settings):
    finance = (b"provider,period,measure,value\nsandwell,2026-01,contract_sum,\xc2\xa393.9m\n"
               b"sandwell,2026-01,other_income,11300000\nsandwell,2026-01,ytd_budget,\"94,080,000\"\n"
               b"sandwell,2026-01,ytd_actual,96720000\nsandwell,2026-01,forecast_outturn,115390000\n")
    out = land_json("finance.csv", finance)
    got = {e["rule"]: (round(e["value"], 2), e["rating"], e["code"]) for e in out["evaluations"]}
    assert got == {"forecast_overspend_pct": (9.69, "red", None), "ytd_overspend_pct": (2.81, "red", None)}
    caseload = (b"provider,period,team,service,worker,asye,caseload\n"
                b"sandwell,2025-03,ai-1,assessment_intervention,SW-1,false,27\n"
                b"sandwell,2025-03,ai-1,assessment_intervention,SW-2,true,18\n"
                b"sandwell,2025-03,cp-1,court_child_protection,SW-3,false,15\n")
    out = land_json("caseload.csv", caseload)
    got = {(e["rule"], e["subject"]): (e["value"], e["rating"]) for e in out["evaluations"]}
    assert got == {
        ("worker_caseload", "sandwell/worker/SW-1"): (27.0, "red"),      # > 22 x 1.2
        ("worker_caseload", "sandwell/worker/SW-2"): (18.0, "amber"),    # ASYE ceiling 17.6
        ("worker_caseload", "sandwell/worker/SW-3"): (15.0, "green"),
        ("team_caseload", "sandwell/team/ai-1"): (22.5, "amber"),
        ("team_caseload", "sandwell/team/cp-1"): (15.0, "green"),
        ("trust_average_caseload", "sandwell"): (20.0, "amber"),        # 2018 PI14: 18.5 <= x <= 23
    }
    with session_for(settings.database_url) as s:
        status = current_status(s, "sandwell")
    assert {r.rule_id for r in status} >= {"forecast_overspend_pct", "worker_caseload", "trust_average_caseload"}
