"""Read models for the CLI (and later the HTTP API and digests)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import Session

from alerts.indicators import describe, rules_for_indicator
from alerts.store.models import Alert, AlertEvent, RatingRecord
from rules.catalog import Catalog


def current_status(session: Session, catalog: Catalog, provider: str | None = None) -> list[dict]:
    """Latest rating per (rule, subject) with its alert state and since when it has held."""
    q = select(RatingRecord).where(RatingRecord.current).order_by(RatingRecord.period)
    if provider:
        q = q.where(RatingRecord.provider == provider)
    latest: dict[tuple[str, str], RatingRecord] = {}
    for r in session.execute(q).scalars():
        latest[(r.rule_id, r.subject)] = r  # ordered by period: the last one wins
    aq = select(Alert)
    if provider:
        aq = aq.where(Alert.provider == provider)
    alerts = {(a.rule_id, a.subject): a for a in session.execute(aq).scalars()}
    out = []
    for key in sorted(latest):
        r, a = latest[key], alerts.get(key)
        out.append({**describe(catalog, r.rule_id), "subject": r.subject, "provider": r.provider,
                    "period": r.period, "value": r.value, "rating": r.rating,
                    "alert": a.state if a else None, "since": a.since_period if a else None,
                    "alert_id": a.id if a else None})
    return out


def _as_text(thresholds: dict) -> str:
    """`history --json` has always printed the bands as the JSON text once stored in a text
    column (sorted keys, default separators): the same bytes, from the JSON column."""
    return json.dumps(thresholds, sort_keys=True)


def history(session: Session, catalog: Catalog, indicator: str, provider: str | None = None) -> list[dict]:
    rule_ids = rules_for_indicator(catalog, indicator)
    if not rule_ids:
        raise LookupError(f"unknown indicator {indicator!r} (expected a rule id, indicator key or contract code)")
    q = (select(RatingRecord).where(RatingRecord.rule_id.in_(rule_ids), RatingRecord.current)  # type: ignore[attr-defined]
         .order_by(RatingRecord.subject, RatingRecord.period))
    if provider:
        q = q.where(RatingRecord.provider == provider)
    return [{**describe(catalog, r.rule_id), "subject": r.subject, "period": r.period, "value": r.value,
             "rating": r.rating, "thresholds": _as_text(r.thresholds), "rule_version": r.rule_version}
            for r in session.execute(q).scalars()]


def current_ratings(session: Session) -> list[RatingRecord]:
    """Every current rating (the demo's month-by-month table)."""
    return list(session.execute(select(RatingRecord).where(RatingRecord.current)).scalars())


def all_alert_events(session: Session) -> list[AlertEvent]:
    """Every alert event in the order it happened (the demo's transition list)."""
    return list(session.execute(select(AlertEvent).order_by(AlertEvent.id)).scalars())
