"""The command line's JSON shapes (`status`, `history`, `subscriptions` and `deliveries --json`;
see docs/performance-team.md): made here, and only here, from read models. A landing's shapes
(`ingest --json`, `returns pending --json`) live beside the intake: alerts/usecases/intake_json.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from alerts.indicators import describe
from alerts.notify.redact import safe_url
from alerts.notify.route import ALL_TRANSITIONS
from alerts.store.queries import HistoryRow, StatusRow
from rules.catalog import Catalog

if TYPE_CHECKING:
    from alerts.store.models import Delivery, Subscriber, Subscription


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
