"""The intake's JSON shapes, made here and only here: the object `kpi-alerts ingest --json` prints
per file, `POST /api/returns` answers (and `returns confirm --json` prints), the web upload page
summarises; and a pending or held return as `returns pending --json` lists it
(docs/performance-team.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.events import AlertTransition, EvaluationOutcome, Landed, RatingResult
from alerts.usecases.ingest import query_lines
from alerts.usecases.intake import Duplicate, Held, IntakeResult, LandedEvaluated, LandedPending, Rejected
from rules.catalog import Catalog

if TYPE_CHECKING:
    from alerts.store.landing import StoredReturn


def evaluation_json(catalog: Catalog, r: RatingResult) -> dict:
    bound = catalog.rules_by_id.get(r.rule_id)
    return {"rule": r.rule_id, "indicator": bound.rule.measure_key if bound else None,
            "code": bound.code if bound else None, "suite": bound.suite if bound else None,
            "subject": r.subject, "period": r.period, "value": r.value, "rating": r.rating}


def transition_json(t: AlertTransition) -> dict:
    return {"rule": t.rule_id, "subject": t.subject, "from": t.from_state, "to": t.to_state, "kind": t.kind,
            "period": t.period}


def _body(catalog: Catalog, landed: Landed, done: bool, error: str | None, outcome: EvaluationOutcome | None,
          queries: tuple[str, ...]) -> dict:
    ret = {"id": landed.return_id, "provider": landed.provider, "kind": landed.kind,
           "periods": list(landed.periods), "status": landed.status,
           # "pending": stored, not yet rated (failed, or a worker is still on it): see `returns pending`
           "evaluation": "done" if done else "pending", "evaluation_error": error}
    body = {"return": ret,
            "evaluations": [evaluation_json(catalog, r) for r in outcome.ratings] if outcome else [],
            "transitions": [transition_json(t) for t in outcome.transitions] if outcome else [],
            "not_reported": list(outcome.not_reported) if outcome and landed.kind == "kpi" else []}
    if queries:  # accepted up front (`ingest --confirm`, `returns confirm`)
        body["queries"] = list(queries)
    return body


def intake_json(catalog: Catalog, result: IntakeResult) -> dict:
    """One landing as `ingest --json` prints it and `POST /api/returns` answers it."""
    match result:
        case Rejected(file=file, errors=errors):
            return {"return": {"file": file, "status": "rejected"}, "errors": list(errors),
                    "evaluations": [], "transitions": [], "not_reported": []}
        case Held(landed=landed, queries=queries):  # stored, nothing rated: awaits confirmation or a correction
            return {"status": "held", **_body(catalog, landed, False, None, None, ()), "queries": list(queries)}
        case Duplicate(landed=landed, evaluated=done, queries=queries):  # nothing changed: empty lists
            return _body(catalog, landed, done, None, None, queries)
        case LandedPending(landed=landed, reason=reason, detail=detail, outcome=outcome, queries=queries):
            return _body(catalog, landed, False, detail if reason == "failed" else None, outcome, queries)
        case LandedEvaluated(landed=landed, outcome=outcome, queries=queries):
            return _body(catalog, landed, True, None, outcome, queries)
    raise TypeError(f"not an intake result: {result!r}")


def pending_json(r: StoredReturn) -> dict:
    """A return awaiting evaluation, or held (status "held") with its queries."""
    return {"id": r.id, "provider": r.provider, "kind": r.kind, "periods": list(r.periods),
            "status": "held" if r.held else r.status, "file": r.filename,
            "received_at": r.received_at.isoformat() if r.received_at else None,
            "queries": query_lines(r.filename, r) if r.held else []}
