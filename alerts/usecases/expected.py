"""Expected returns: the calendar as alerts. A missing return opens `return_overdue_<kind>` for
its provider (alerts/overdue.py decides, over rules/calendar.py's rows); the return landing
resolves it. The alert events go through the notify pipeline in the same transaction, like any
other alert's: routed (tag `returns`), muted, notified and digested.

- `check_returns`: beat's daily step. Idempotent: an alert already open makes no event, and
  every write is conditional on the state it was decided from (alerts/store/expected.py).
- `resolve_on_landing`: called by the evaluation of a return, in its transaction; the event
  carries the return's id, so its message is the return's message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session

from alerts.notify.changes import Change, build_change
from alerts.notify.pipeline import plan
from alerts.overdue import OverdueMove, overdue_moves
from alerts.store import expected as store
from rules.calendar import CalendarRow, calendar, deadline, expectation, local_day, missing_periods
from rules.catalog import Catalog


def _change(catalog: Catalog, event: dict, move: OverdueMove, batch: str | None = None) -> Change:
    expected = expectation(catalog, move.provider, move.kind, move.period)
    when = deadline(move.period, expected) if expected else None
    return dataclasses.replace(build_change(catalog, event, [], None), overdue_kind=move.kind,
                               due=when.due if when else None, missing_after=when.missing_after if when else None,
                               missing_since=move.since_period, batch=batch)


def _apply(session: Session, catalog: Catalog, moves: list[OverdueMove], now: dt.datetime,
           return_id: int | None = None, batch: str | None = None) -> list[Change]:
    changes = []
    for move in moves:
        event = store.apply_move(session, move, now, return_id)
        if event is not None:
            changes.append(_change(catalog, event, move, batch))
    return changes


def calendar_now(session: Session, catalog: Catalog, now: dt.datetime, timezone: str) -> list[CalendarRow]:
    """The expected-returns calendar as of today where the install is (the web app's /returns)."""
    return calendar(catalog, store.landed(session), local_day(now, timezone), timezone)


def check_returns(session: Session, catalog: Catalog, now: dt.datetime, timezone: str = "Europe/London",
                  base_url: str = "") -> list[int]:
    """Open, move or resolve every provider's `return_overdue_<kind>` alert as the calendar
    stands at `now` (local day); plan their notifications; commit. Returns delivery ids."""
    rules = catalog.calendar_rules
    if not rules:
        return []
    rows = calendar(catalog, store.landed(session), local_day(now, timezone), timezone, kinds=rules)
    alerts = store.overdue_alerts(session, [b.id for b in rules.values()])
    by_id = {b.id: kind for kind, b in rules.items()}
    keys = {(r.provider, r.kind) for r in rows} | {(p, by_id[rule_id]) for rule_id, p in alerts}
    moves = overdue_moves(missing_periods(rows), alerts, rules, keys)
    changes = _apply(session, catalog, moves, now, batch=f"returns-check-{local_day(now, timezone).isoformat()}")
    ids = plan(session, changes, now, base_url)
    session.commit()
    return ids


def resolve_on_landing(session: Session, catalog: Catalog, provider: str, kind: str, return_id: int,
                       now: dt.datetime, timezone: str = "Europe/London") -> list[Change]:
    """A return of `kind` from `provider` was landed: its open `return_overdue_<kind>` alert
    resolves when nothing of the kind is missing any more (or follows what still is). One read
    when there is no such alert; the caller plans the changes and commits."""
    rule = catalog.calendar_rules.get(kind)
    if rule is None:
        return []
    alerts = store.overdue_alerts(session, [rule.id])
    alert = alerts.get((rule.id, provider))
    if alert is None or alert.state == "green":
        return []
    rows = calendar(catalog, store.landed(session, provider, kind), local_day(now, timezone), timezone,
                    providers=[provider], kinds=[kind])
    moves = overdue_moves(missing_periods(rows), alerts, {kind: rule}, [(provider, kind)])
    return _apply(session, catalog, moves, now, return_id)
