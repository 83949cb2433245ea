"""The command line's JSON shapes (`ingest --json`, see README): made here, from domain events."""

from __future__ import annotations

from alerts.events import AlertTransition, RatingResult
from alerts.usecases.ingest import IngestResult
from rules.catalog import Catalog


def evaluation_json(catalog: Catalog, r: RatingResult) -> dict:
    bound = catalog.rules_by_id.get(r.rule_id)
    return {"rule": r.rule_id, "indicator": bound.rule.measure_key if bound else None,
            "code": bound.code if bound else None, "suite": bound.suite if bound else None,
            "subject": r.subject, "period": r.period, "value": r.value, "rating": r.rating}


def transition_json(t: AlertTransition) -> dict:
    return {"rule": t.rule_id, "subject": t.subject, "from": t.from_state, "to": t.to_state, "kind": t.kind,
            "period": t.period}


def ingest_json(catalog: Catalog, result: IngestResult) -> dict:
    if result.landed is None:
        return {"return": {"file": result.file, "status": "rejected"}, "errors": result.errors,
                "evaluations": [], "transitions": []}
    landed = result.landed
    ret = {"id": landed.return_id, "provider": landed.provider, "kind": landed.kind,
           "periods": list(landed.periods), "status": landed.status}
    outcome = result.outcome if landed.status != "duplicate" else None
    return {"return": ret,
            "evaluations": [evaluation_json(catalog, r) for r in outcome.ratings] if outcome else [],
            "transitions": [transition_json(t) for t in outcome.transitions] if outcome else []}
