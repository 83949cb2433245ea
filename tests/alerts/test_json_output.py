"""`ingest --json` keeps its shape byte for byte (docs/performance-team.md, "ingest --json"): made from domain
events by alerts/usecases/intake_json.py, beside the intake every door lands through."""

from __future__ import annotations

import json

from alerts.events import AlertTransition, EvaluationOutcome, Landed, RatingResult
from alerts.usecases.intake import Duplicate, LandedEvaluated, LandedPending, Rejected
from alerts.usecases.intake_json import intake_json as ingest_json
from rules.loader import SHIPPED_PACKS, load_catalog

CATALOG = load_catalog(SHIPPED_PACKS)
LANDED = Landed(7, "accepted", "sandwell", "kpi", ("2024-10",))
OUTCOME = EvaluationOutcome(
    7, (RatingResult("single_assessments_45wd", "sandwell", "2024-10", 68.8, "red"),
        RatingResult("forecast_overspend_pct", "sandwell", "2024-10", 9.69, None)),
    (AlertTransition(id=3, alert_id=1, rule_id="single_assessments_45wd", subject="sandwell", provider="sandwell",
                     team=None, from_state="amber", to_state="red", kind="escalated", period="2024-10", value=68.8,
                     return_id=7),), not_reported=("cin_visits_on_time", "cwd_assessment_updated_12m"))


def test_an_accepted_return():
    assert json.dumps(ingest_json(CATALOG, LandedEvaluated("k.csv", LANDED, OUTCOME))) == (
        '{"return": {"id": 7, "provider": "sandwell", "kind": "kpi", "periods": ["2024-10"], "status": "accepted", '
        '"evaluation": "done", "evaluation_error": null}, '
        '"evaluations": [{"rule": "single_assessments_45wd", "indicator": "single_assessments_45wd", "code": "PI1", '
        '"suite": "2024", "subject": "sandwell", "period": "2024-10", "value": 68.8, "rating": "red"}, '
        '{"rule": "forecast_overspend_pct", "indicator": "forecast_overspend_pct", "code": null, "suite": null, '
        '"subject": "sandwell", "period": "2024-10", "value": 9.69, "rating": null}], '
        '"transitions": [{"rule": "single_assessments_45wd", "subject": "sandwell", "from": "amber", "to": "red", '
        '"kind": "escalated", "period": "2024-10"}], '
        '"not_reported": ["cin_visits_on_time", "cwd_assessment_updated_12m"]}')


def test_a_duplicate_and_a_rejected_file():
    dup = Landed(7, "duplicate", "sandwell", "kpi", ("2024-10",))
    assert json.dumps(ingest_json(CATALOG, Duplicate("k.csv", dup))) == (
        '{"return": {"id": 7, "provider": "sandwell", "kind": "kpi", "periods": ["2024-10"], '
        '"status": "duplicate", "evaluation": "done", "evaluation_error": null}, "evaluations": [], "transitions": [], '
        '"not_reported": []}')
    bad = Rejected("bad.csv", ("bad.csv:3:period: not a month",))
    assert json.dumps(ingest_json(CATALOG, bad)) == (
        '{"return": {"file": "bad.csv", "status": "rejected"}, "errors": ["bad.csv:3:period: not a month"], '
        '"evaluations": [], "transitions": [], "not_reported": []}')
    finance = Landed(8, "accepted", "sandwell", "finance", ("2024-10",))
    assert ingest_json(CATALOG, LandedEvaluated("f.csv", finance, OUTCOME))["not_reported"] == []


def test_a_return_stored_but_not_rated_says_so():
    failed = LandedPending("k.csv", LANDED, "failed", "OperationalError: database is locked")
    out = ingest_json(CATALOG, failed)
    assert (out["return"]["evaluation"], out["return"]["evaluation_error"]) == (
        "pending", "OperationalError: database is locked")
    assert out["evaluations"] == [] and out["transitions"] == []
    queued = ingest_json(CATALOG, LandedPending("k.csv", LANDED, "queued", outcome=OUTCOME))
    assert (queued["return"]["evaluation"], queued["return"]["evaluation_error"]) == ("pending", None)
