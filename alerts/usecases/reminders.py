"""Reminders follow the data's rhythm, not a timer.

Once a week, on the reminder weekday (`KPI_ALERTS_REMINDER_WEEKDAY`, Monday by default, local
time; beat may run the step every day: a run on another day does nothing), every red alert
that `reminder_due` (alerts/lifecycle.py, pure) finds due gets a `reminder` event, and the
week's reminders are planned as ONE batch, 'reminders-2025-W15': one message per subscriber
and channel listing every red alert they follow. An alert is due when it has been red for at
least `reminder_days` (the pack's minimum gap), not before the next return of its rule's kind
(kpi, finance, caseload) is due by the expected-returns calendar (rules/calendar.py: the return
after the period it stood on when it turned red or last reminded), and, after a reminder or an
acknowledgement, only once a newer return of that kind has been rated for its provider: at most
one reminder between two returns, none after an acknowledgement until the next return. Each
says when the next return is due ('still in failure since 2024-10; the next return is due 15
Nov'), or that it is late or missing. The filter stage's `reminded_this_week` drops a reminder for a subscriber and
channel that already has one in that ISO week (a second beat, a manual run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.lifecycle import reminder_due, reminder_week
from alerts.notify.changes import build_change
from alerts.notify.pipeline import plan
from alerts.store import alerts as alert_store
from alerts.store.landing import latest_returns
from alerts.store.ratings import current_observations, series_of_rules
from alerts.usecases.evaluate import amounts_of
from rules.calendar import next_return
from rules.catalog import Catalog

DEFAULT_REMINDER_DAYS = 7


def send_reminders(session: Session, catalog: Catalog, now: dt.datetime, base_url: str = "", *,
                   weekday: int = 0, timezone: str = "Europe/London") -> list[int]:
    """Write reminder events for the alerts due at `now` and plan their notifications; returns
    delivery ids. Nothing at all (not a statement) unless `now` is on `weekday` in `timezone`."""
    week = reminder_week(now, weekday, timezone)
    if week is None:
        return []
    red = alert_store.red_alerts(session)
    if not red:
        return []
    ids = [a.id for a in red]
    red_at = alert_store.last_events(session, ids, ("opened", "escalated"), "red")  # type: ignore[arg-type]
    reminded = alert_store.last_events(session, ids, ("reminder",), "red")  # type: ignore[arg-type]
    acks = alert_store.last_acknowledgements(session, ids)  # type: ignore[arg-type]
    latest = latest_returns(session, {a.provider for a in red})
    today = now.astimezone(ZoneInfo(timezone)).date()
    events, extra = [], []
    for a in red:
        bound = catalog.rules_by_id.get(a.rule_id)
        days = bound.reminder_days if bound else DEFAULT_REMINDER_DAYS
        newest = latest.get((a.provider, bound.rule.kind)) if bound else None
        ack = acks.get(a.id)  # type: ignore[arg-type]
        turned, last = red_at.get(a.id), reminded.get(a.id)  # type: ignore[arg-type]
        stood_on = (last or turned or (None, a.period))[1]  # the period it last turned red or reminded on
        due = next_return(catalog, a.provider, bound.rule.kind, stood_on, today) if bound else None
        if reminder_due(a.state, turned[0] if turned else None, last[0] if last else None, now, days,
                        landed=newest.rated_at if newest else None, acknowledged=ack.at if ack else None,
                        timezone=timezone, next_due=due[1].due if due else None):
            events.append(dict(alert_id=a.id, return_id=None, rule_id=a.rule_id, subject=a.subject,
                               provider=a.provider, team=a.team, from_state="red", to_state="red", kind="reminder",
                               period=a.period, value=a.value, at=now))
            on = ack.at.astimezone(ZoneInfo(timezone)).date().isoformat() if ack else ""
            extra.append(dict(red_since=a.since_period, newest_period=newest.newest_period if newest else None,
                              acknowledged=(ack.by or "someone", on, ack.note) if ack else None,
                              **_next(catalog, a.provider, bound.rule.kind if bound else None,
                                      newest.newest_period if newest else a.period, today)))
    if not events:
        return []
    for ev, eid in zip(events, alert_store.record_returning_ids(session, events), strict=True):
        ev["id"] = eid
    series, thresholds = series_of_rules(session, {e["rule_id"] for e in events})
    amounts = _amounts(session, catalog, events)
    changes = [dataclasses.replace(build_change(catalog, e, series.get((e["rule_id"], e["subject"]), []),
                                                thresholds.get((e["rule_id"], e["subject"], e["period"])),
                                                measures=amounts.get((e["provider"], e["period"]))), **x)
               for e, x in zip(events, extra, strict=True)]
    delivery_ids = plan(session, changes, now, base_url, reminder_week=week)
    session.commit()
    return delivery_ids


def _next(catalog: Catalog, provider: str, kind: str | None, newest: str, today: dt.date) -> dict:
    """The return the provider owes next of `kind` (after its newest), for the reminder to say:
    next_period, next_due and next_state (upcoming, due: its due day passed, or missing)."""
    found = next_return(catalog, provider, kind, newest, today) if kind else None
    if found is None:
        return {}
    period, when, status = found
    state = "missing" if status == "missing" else "upcoming" if today <= when.due else "due"
    return dict(next_period=period, next_due=when.due, next_state=state)


def _amounts(session: Session, catalog: Catalog, events: list[dict]) -> dict[tuple[str, str], dict]:
    """(provider, period) -> the values of that period, for the reminders of rules rated as a
    percentage of an amount (a reminder says the overspend in pounds too); one read per period."""
    wanted = {(e["provider"], b.rule.kind, e["period"]) for e in events
              if (b := catalog.rules_by_id.get(e["rule_id"])) is not None and b.rule.amount is not None}
    out: dict[tuple[str, str], dict] = {}
    for provider, kind, period in sorted(wanted):
        rows = current_observations(session, provider, kind, [period])
        out[(provider, period)] = amounts_of(catalog, kind, provider, {period: list(rows)}).get(period, {})
    return out
