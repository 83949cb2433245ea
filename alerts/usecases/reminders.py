"""Reminders: an alert still red `reminder_days` after it turned red (or after the last
reminder) produces a `reminder` event, once per interval. The trigger is scheduled by beat;
the decision is the pure function `reminder_due`."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from alerts.lifecycle import reminder_due
from alerts.notify.changes import build_change
from alerts.notify.pipeline import plan
from alerts.store import alerts as alert_store
from alerts.store.ratings import series_of_rules
from rules.catalog import Catalog


def send_reminders(session: Session, catalog: Catalog, now: dt.datetime, base_url: str = "") -> list[int]:
    """Write reminder events for due alerts and plan their notifications; returns delivery ids."""
    red = alert_store.red_alerts(session)
    if not red:
        return []
    ids = [a.id for a in red]
    last = alert_store.last_event_at(session, ids, ("opened", "escalated"), "red")  # type: ignore[arg-type]
    reminded = alert_store.last_event_at(session, ids, ("reminder",), "red")  # type: ignore[arg-type]
    events = []
    for a in red:
        bound = catalog.rules_by_id.get(a.rule_id)
        days = bound.reminder_days if bound else 7
        if reminder_due(a.state, last.get(a.id), reminded.get(a.id), now, days):  # type: ignore[arg-type]
            events.append(dict(alert_id=a.id, return_id=None, rule_id=a.rule_id, subject=a.subject,
                               provider=a.provider, team=a.team, from_state="red", to_state="red", kind="reminder",
                               period=a.period, value=a.value, at=now))
    if not events:
        return []
    for ev, eid in zip(events, alert_store.record_returning_ids(session, events), strict=True):
        ev["id"] = eid
    series, thresholds = series_of_rules(session, {e["rule_id"] for e in events})
    changes = [build_change(catalog, e, series.get((e["rule_id"], e["subject"]), []),
                            thresholds.get((e["rule_id"], e["subject"], e["period"]))) for e in events]
    delivery_ids = plan(session, changes, now, base_url, reminder_day=now.date().isoformat())
    session.commit()
    return delivery_ids
