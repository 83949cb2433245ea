"""Acknowledge and snooze. Both are recorded in the alert's history (alert_events); a snooze
silences notifications, never ratings, and expires by itself."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.indicators import rules_for_indicator
from alerts.store import alerts as alert_store
from alerts.store.models import Alert, Snooze
from rules.catalog import Catalog


def _history(alert: Alert, kind: str, by: str | None, note: str | None, now: dt.datetime,
             by_role: str | None = None) -> dict:
    return dict(alert_id=alert.id, return_id=None, rule_id=alert.rule_id, subject=alert.subject,
                provider=alert.provider, team=alert.team, from_state=alert.state, to_state=alert.state, kind=kind,
                period=alert.period, value=alert.value, by=by, by_role=by_role, note=note, at=now)


def acknowledge(session: Session, alert_id: int, by: str, note: str | None, now: dt.datetime,
                by_role: str | None = None) -> Alert:
    """`by_role`: the role the web or the API let them act in (the doors allow the performance
    role and above); None from the command line, which has no roles."""
    alert = alert_store.get(session, alert_id)
    if alert is None:
        raise LookupError(f"no alert with id {alert_id}")
    alert_store.record_history(session, [_history(alert, "acknowledged", by, note, now, by_role)])
    session.commit()
    return alert


def local_day_start(day: dt.date, timezone: str) -> dt.datetime:
    """A date given by a person means the start of that day where they are."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def snooze(session: Session, catalog: Catalog, rule: str, until: dt.datetime, now: dt.datetime,
           subject: str | None = None, by: str | None = None, by_role: str | None = None) -> list[str]:
    """Silence a rule (all its subjects, or one) until `until`; returns the rule ids snoozed."""
    rule_ids = rules_for_indicator(catalog, rule, on=now.date())  # a code means what it means today
    if not rule_ids:
        raise LookupError(f"unknown rule {rule!r} (expected a rule id, indicator key or contract code)")
    if until <= now:
        raise ValueError(f"--until must be in the future, got {until:%Y-%m-%d %H:%M} UTC")
    alert_store.add_snoozes(session, [Snooze(rule_id=r, subject=subject, until=until, by=by, created_at=now)
                                      for r in rule_ids])
    note = f"notifications silenced until {until:%Y-%m-%d %H:%M} UTC"
    alert_store.record_history(session, [_history(a, "snoozed", by, note, now, by_role)
                                         for a in alert_store.of_rules(session, rule_ids, subject)])
    session.commit()
    return rule_ids
