"""Acknowledge and snooze. Both are recorded in the alert's history (alert_events); a snooze
silences notifications, never ratings, and expires by itself."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlmodel import Session

from alerts.queries import rules_for_indicator
from alerts.store.models import Alert, AlertEvent, Snooze, utcnow
from rules.catalog import Catalog


def _history(alert: Alert, kind: str, by: str | None, note: str | None, now: dt.datetime) -> dict:
    return dict(alert_id=alert.id, return_id=None, rule_id=alert.rule_id, subject=alert.subject,
                provider=alert.provider, team=alert.team, from_state=alert.state, to_state=alert.state, kind=kind,
                period=alert.period, value=alert.value, by=by, note=note, at=now)


def acknowledge(session: Session, alert_id: int, by: str, note: str | None = None) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise LookupError(f"no alert with id {alert_id}")
    session.execute(insert(AlertEvent.__table__), [_history(alert, "acknowledged", by, note, utcnow())])
    session.commit()
    return alert


def local_day_start(day: dt.date, timezone: str) -> dt.datetime:
    """A date given by a person means the start of that day where they are."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def snooze(session: Session, catalog: Catalog, rule: str, until: dt.datetime, subject: str | None = None,
           by: str | None = None) -> list[str]:
    """Silence a rule (all its subjects, or one) until `until`; returns the rule ids snoozed."""
    now = utcnow()
    rule_ids = rules_for_indicator(catalog, rule, on=now.date())  # a code means what it means today
    if not rule_ids:
        raise LookupError(f"unknown rule {rule!r} (expected a rule id, indicator key or contract code)")
    if until <= now:
        raise ValueError(f"--until must be in the future, got {until:%Y-%m-%d %H:%M} UTC")
    session.add_all([Snooze(rule_id=r, subject=subject, until=until, by=by) for r in rule_ids])
    q = select(Alert).where(Alert.rule_id.in_(rule_ids))  # type: ignore[attr-defined]
    if subject:
        q = q.where(Alert.subject == subject)
    note = f"notifications silenced until {until:%Y-%m-%d %H:%M} UTC"
    history = [_history(a, "snoozed", by, note, now) for a in session.execute(q).scalars()]
    if history:
        session.execute(insert(AlertEvent.__table__), history)
    session.commit()
    return rule_ids
