"""The command line's JSON shapes (`ingest --json`, `status`, `history`, `subscriptions` and
`deliveries --json`; see docs/performance-team.md): made here, and only here, from domain events and read models."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from alerts.events import AlertTransition, RatingResult
from alerts.indicators import describe
from alerts.notify.redact import safe_url
from alerts.notify.route import ALL_TRANSITIONS
from alerts.store.queries import HistoryRow, StatusRow
from alerts.usecases.ingest import IngestResult, query_lines
from rules.catalog import Catalog

if TYPE_CHECKING:
    from alerts.store.landing import StoredReturn
    from alerts.store.models import Delivery, Subscriber, Subscription


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
                "evaluations": [], "transitions": [], "not_reported": []}
    landed = result.landed
    ret = {"id": landed.return_id, "provider": landed.provider, "kind": landed.kind,
           "periods": list(landed.periods), "status": landed.status,
           # "pending": stored, not yet rated (failed, or a worker is still on it): see `returns pending`
           "evaluation": "done" if result.evaluated else "pending",
           "evaluation_error": result.evaluation_failed}
    outcome = result.outcome if landed.status != "duplicate" else None
    body = {"return": ret,
            "evaluations": [evaluation_json(catalog, r) for r in outcome.ratings] if outcome else [],
            "transitions": [transition_json(t) for t in outcome.transitions] if outcome else [],
            "not_reported": list(outcome.not_reported) if outcome and landed.kind == "kpi" else []}
    if result.held:  # stored, nothing rated: it awaits confirmation or a corrected file
        return {"status": "held", **body, "queries": list(result.queries)}
    if result.queries:  # accepted up front (`ingest --confirm`, `returns confirm`)
        body["queries"] = list(result.queries)
    return body


def status_json(catalog: Catalog, r: StatusRow) -> dict:
    return {**describe(catalog, r.rule_id), "subject": r.subject, "provider": r.provider, "period": r.period,
            "value": r.value, "rating": r.rating, "alert": r.alert, "since": r.since, "alert_id": r.alert_id}


def history_json(catalog: Catalog, r: HistoryRow) -> dict:
    # "thresholds" has always been the bands' JSON text (sorted keys), not an object: kept so.
    return {**describe(catalog, r.rule_id), "subject": r.subject, "period": r.period, "value": r.value,
            "rating": r.rating, "thresholds": json.dumps(r.thresholds, sort_keys=True),
            "rule_version": r.rule_version}


def subscription_json(s: Subscription, w: Subscriber) -> dict:
    return {"id": s.id, "subscriber": w.name, "subscriber_id": w.id, "email": w.email,
            "teams": safe_url(w.teams_url) if w.teams_url else None,
            "indicators": s.indicators, "tags": s.tags, "providers": s.providers,
            "teams_filter": s.teams, "transitions": s.transitions or sorted(ALL_TRANSITIONS),
            "min_severity": s.min_severity, "delivery": s.delivery, "digest_cadence": w.digest_cadence}


def delivery_json(d: Delivery, subscriber: str) -> dict:
    return {"id": d.id, "key": d.key, "subscriber": subscriber, "channel": d.channel, "subject": d.subject,
            "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None}


def pending_json(r: StoredReturn) -> dict:
    """A return awaiting evaluation, or held (status "held") with its queries."""
    return {"id": r.id, "provider": r.provider, "kind": r.kind, "periods": list(r.periods),
            "status": "held" if r.held else r.status, "file": r.filename,
            "received_at": r.received_at.isoformat() if r.received_at else None,
            "queries": query_lines(r.filename, r) if r.held else []}
