"""What the expected-returns calendar reads (when each period's first return landed) and the
`return_overdue_<kind>` alert rows it writes. Every write is conditional on the state it was
decided from, so two checks running at once record one event, never two."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from alerts.overdue import OverdueAlert, OverdueMove
from alerts.store.models import Alert, AlertEvent, ReturnRecord

RETURNS = ReturnRecord.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
EVENTS = AlertEvent.__table__  # type: ignore[attr-defined]

_LANDED = select(RETURNS.c.provider, RETURNS.c.kind, RETURNS.c.periods, RETURNS.c.received_at)
_OF_RULES = select(ALERTS.c.id, ALERTS.c.rule_id, ALERTS.c.subject, ALERTS.c.state, ALERTS.c.period,
                   ALERTS.c.since_period, ALERTS.c.value).where(
    ALERTS.c.rule_id.in_(bindparam("rule_ids", expanding=True)))
_ID = select(ALERTS.c.id).where(ALERTS.c.rule_id == bindparam("r"), ALERTS.c.subject == bindparam("s"))
_MOVE = (update(ALERTS).where(ALERTS.c.id == bindparam("alert_id"), ALERTS.c.state == bindparam("was"))
         .values(state=bindparam("state"), period=bindparam("period"), value=bindparam("value"),
                 since_period=bindparam("since_period"), updated_at=bindparam("at")))
_EVENT = insert(EVENTS).returning(EVENTS.c.id)


def landed(session: Session, provider: str | None = None, kind: str | None = None
           ) -> dict[tuple[str, str], dict[str, dt.datetime]]:
    """(provider, kind) -> period -> when the first return covering it landed (rated or not)."""
    stmt = _LANDED
    if provider is not None:
        stmt = stmt.where(RETURNS.c.provider == provider)
    if kind is not None:
        stmt = stmt.where(RETURNS.c.kind == kind)
    out: dict[tuple[str, str], dict[str, dt.datetime]] = {}
    for p, k, periods, at in session.connection().execute(stmt):
        held = out.setdefault((p, k), {})
        for period in periods.split(","):
            if period not in held or at < held[period]:
                held[period] = at
    return out


def overdue_alerts(session: Session, rule_ids: Iterable[str]) -> dict[tuple[str, str], OverdueAlert]:
    """(rule id, provider) -> the calendar rules' alerts as stored."""
    ids = sorted(set(rule_ids))
    if not ids:
        return {}
    rows = session.connection().execute(_OF_RULES, {"rule_ids": ids})
    return {(r.rule_id, r.subject): OverdueAlert(r.id, r.state, r.period, r.since_period, r.value) for r in rows}


def apply_move(session: Session, move: OverdueMove, now: dt.datetime, return_id: int | None = None) -> dict | None:
    """Write one move: the alert row (created, or updated only if still in the state it was
    decided from) and its event. The event as a dict with its id; None when no event, or when
    another check got there first."""
    conn = session.connection()
    row = dict(state=move.to_state, period=move.period, value=move.value, since_period=move.since_period)
    if move.alert_id is None:
        ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(ALERTS)
        done = conn.execute(ins.values(rule_id=move.rule_id, subject=move.provider, provider=move.provider, team=None,
                                       updated_at=now, **row).on_conflict_do_nothing()).rowcount
        alert_id = conn.execute(_ID, {"r": move.rule_id, "s": move.provider}).scalar_one()
    else:
        done = conn.execute(_MOVE, {"alert_id": move.alert_id, "was": move.from_state, "at": now, **row}).rowcount
        alert_id = move.alert_id
    if not done or move.event is None:
        return None
    event = dict(alert_id=alert_id, return_id=return_id, rule_id=move.rule_id, subject=move.provider,
                 provider=move.provider, team=None, from_state=move.from_state, to_state=move.to_state,
                 kind=move.event, period=move.period, value=move.value, at=now)
    event["id"] = conn.execute(_EVENT, event).scalar_one()
    return event
