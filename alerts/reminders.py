"""Reminders: an alert still red `reminder_days` after it turned red (or after the last
reminder) produces a `reminder` event, once per interval. The trigger is scheduled by beat;
the decision is the pure function `reminder_due`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlmodel import Session

from alerts.lifecycle import reminder_due
from alerts.notify.changes import build_change
from alerts.notify.pipeline import plan
from alerts.store.models import Alert, AlertEvent, RatingRecord
from rules.catalog import Catalog


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def send_reminders(session: Session, catalog: Catalog, now: dt.datetime, base_url: str = "") -> list[int]:
    """Write reminder events for due alerts and plan their notifications; returns delivery ids."""
    red = session.execute(select(Alert).where(Alert.state == "red")).scalars().all()
    if not red:
        return []
    ids = [a.id for a in red]
    last = dict(session.execute(
        select(AlertEvent.alert_id, func.max(AlertEvent.at)).where(AlertEvent.alert_id.in_(ids),  # type: ignore[attr-defined]
                                                                   AlertEvent.to_state == "red",
                                                                   AlertEvent.kind.in_(("opened", "escalated")))  # type: ignore[attr-defined]
        .group_by(AlertEvent.alert_id)).all())
    reminded = dict(session.execute(
        select(AlertEvent.alert_id, func.max(AlertEvent.at)).where(AlertEvent.alert_id.in_(ids),  # type: ignore[attr-defined]
                                                                   AlertEvent.kind == "reminder")
        .group_by(AlertEvent.alert_id)).all())
    events = []
    for a in red:
        bound = catalog.rules_by_id.get(a.rule_id)
        days = bound.reminder_days if bound else 7
        if reminder_due(a.state, _aware(last.get(a.id)), _aware(reminded.get(a.id)), now, days):
            events.append(dict(alert_id=a.id, return_id=None, rule_id=a.rule_id, subject=a.subject,
                               provider=a.provider, team=a.team, from_state="red", to_state="red", kind="reminder",
                               period=a.period, value=a.value, at=now))
    if not events:
        return []
    table = AlertEvent.__table__
    for ev, eid in zip(events, session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                               events).scalars(), strict=True):
        ev["id"] = eid
    series: dict[tuple[str, str], list] = {}
    rows = session.execute(select(RatingRecord.rule_id, RatingRecord.subject, RatingRecord.period,
                                  RatingRecord.rating, RatingRecord.value, RatingRecord.thresholds)
                           .where(RatingRecord.current, RatingRecord.rating.is_not(None),  # type: ignore[union-attr]
                                  RatingRecord.rule_id.in_({e["rule_id"] for e in events}))  # type: ignore[attr-defined]
                           .order_by(RatingRecord.period)).all()
    thresholds = {}
    for rule_id, subject, period, rating, value, th in rows:
        series.setdefault((rule_id, subject), []).append((period, rating, value))
        thresholds[(rule_id, subject, period)] = th
    changes = [build_change(catalog, e, series.get((e["rule_id"], e["subject"]), []),
                            thresholds.get((e["rule_id"], e["subject"], e["period"]))) for e in events]
    ids = plan(session, changes, now, base_url, reminder_day=now.date().isoformat())
    session.commit()
    return ids
