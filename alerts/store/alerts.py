"""Alert rows and their history (alert_events). Statements are built once per process, and a
return's statement count does not grow with its alerts: rows go in as one executemany each,
and new ids are read back in one query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Row, bindparam, insert, select, update
from sqlmodel import Session

from alerts.events import AlertTransition
from alerts.moves import STATE_CHANGES, AlertRow, AlertState, Correction, Decision, Key
from alerts.store.models import Alert, AlertEvent, Snooze

ALERTS = Alert.__table__  # type: ignore[attr-defined]
EVENTS = AlertEvent.__table__  # type: ignore[attr-defined]

_STATES = select(ALERTS.c.id, ALERTS.c.rule_id, ALERTS.c.subject, ALERTS.c.state, ALERTS.c.since_period).where(
    ALERTS.c.provider == bindparam("provider"), ALERTS.c.rule_id.in_(bindparam("rule_ids", expanding=True)))
_INSERT_ALERTS = insert(ALERTS)
_UPDATE_ALERTS = (update(ALERTS).where(ALERTS.c.id == bindparam("alert_id"))
                  .values(state=bindparam("state"), team=bindparam("team"), period=bindparam("period"),
                          value=bindparam("value"), since_period=bindparam("since_period"),
                          updated_at=bindparam("updated_at")))
_INSERT_EVENTS = insert(EVENTS)
_TRANSITION = (EVENTS.c.id, EVENTS.c.alert_id, EVENTS.c.rule_id, EVENTS.c.subject, EVENTS.c.provider, EVENTS.c.team,
               EVENTS.c.from_state, EVENTS.c.to_state, EVENTS.c.kind, EVENTS.c.period, EVENTS.c.value,
               EVENTS.c.return_id, EVENTS.c.at)
_EVENTS_OF_RETURN = select(*_TRANSITION).where(EVENTS.c.return_id == bindparam("return_id")).order_by(EVENTS.c.id)
_INSERT_EVENTS_RETURNING = insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True)
_RED = select(Alert).where(Alert.state == "red")
_LAST = (select(EVENTS.c.alert_id, EVENTS.c.at, EVENTS.c.period)
         .where(EVENTS.c.alert_id.in_(bindparam("ids", expanding=True)),
                EVENTS.c.kind.in_(bindparam("kinds", expanding=True)), EVENTS.c.to_state == bindparam("to_state"))
         .order_by(EVENTS.c.at, EVENTS.c.id))
_ACKS = (select(EVENTS.c.alert_id, EVENTS.c.at, EVENTS.c.by, EVENTS.c.by_role, EVENTS.c.note)
         .where(EVENTS.c.alert_id.in_(bindparam("ids", expanding=True)), EVENTS.c.kind == "acknowledged")
         .order_by(EVENTS.c.at, EVENTS.c.id))
_ANNOUNCED = (select(EVENTS.c.alert_id, EVENTS.c.period, EVENTS.c.to_state)
              .where(EVENTS.c.alert_id.in_(bindparam("ids", expanding=True)),
                     EVENTS.c.period.in_(bindparam("periods", expanding=True)),
                     EVENTS.c.kind.in_(STATE_CHANGES)))
_OF_RULES = select(Alert).where(Alert.rule_id.in_(bindparam("rule_ids", expanding=True)))  # type: ignore[attr-defined]
_OF_RULES_SUBJECT = _OF_RULES.where(Alert.subject == bindparam("subject"))


def states(session: Session, provider: str, rule_ids: Iterable[str]) -> dict[Key, AlertState]:
    rows = session.connection().execute(_STATES, {"provider": provider, "rule_ids": sorted(set(rule_ids))})
    return {(r.rule_id, r.subject): AlertState(r.id, r.state, r.since_period) for r in rows}


def _row(provider: str, a: AlertRow, now: dt.datetime) -> dict:
    return dict(rule_id=a.rule_id, subject=a.subject, provider=provider, team=a.team, state=a.state,
                period=a.period, value=a.value, since_period=a.since_period, updated_at=now)


def apply(session: Session, provider: str, return_id: int, decision: Decision, now: dt.datetime
          ) -> list[AlertTransition]:
    """Write the decision's alert rows and transitions; returns the transitions as stored (with ids)."""
    conn = session.connection()
    if decision.created:
        conn.execute(_INSERT_ALERTS, [_row(provider, a, now) for a in decision.created])
    if decision.updated:
        conn.execute(_UPDATE_ALERTS, [dict(alert_id=a.alert_id, state=a.state, team=a.team, period=a.period,
                                           value=a.value, since_period=a.since_period, updated_at=now)
                                      for a in decision.updated])
    if not decision.moves:
        return []
    ids = {(a.rule_id, a.subject): a.alert_id for a in decision.updated}
    if any((m.rule_id, m.subject) not in ids for m in decision.moves):  # a new alert moved: read its id
        ids = {k: s.alert_id for k, s in states(session, provider, {m.rule_id for m in decision.moves}).items()}
    conn.execute(_INSERT_EVENTS, [
        dict(alert_id=ids[(m.rule_id, m.subject)], return_id=return_id, rule_id=m.rule_id, subject=m.subject,
             provider=provider, team=m.team, from_state=m.from_state, to_state=m.to_state, kind=m.kind,
             period=m.period, value=m.value, at=now)
        for m in decision.moves])
    return events_of_return(session, return_id)  # one read for every new id, not one INSERT .. RETURNING each


def events_of_return(session: Session, return_id: int) -> list[AlertTransition]:
    rows = session.connection().execute(_EVENTS_OF_RETURN, {"return_id": return_id}).mappings()
    return [AlertTransition(**r) for r in rows]


def red_alerts(session: Session) -> Sequence[Alert]:
    return session.execute(_RED).scalars().all()


def last_events(session: Session, alert_ids: Sequence[int], kinds: Sequence[str], to_state: str
                ) -> dict[int, tuple[dt.datetime, str]]:
    """Per alert, its last event of one of `kinds` into `to_state`: (when, its period)."""
    rows = session.connection().execute(_LAST, {"ids": list(alert_ids), "kinds": list(kinds), "to_state": to_state})
    return {r.alert_id: (r.at, r.period) for r in rows}  # in time order: the last one wins


def last_acknowledgements(session: Session, alert_ids: Sequence[int]) -> dict[int, Row]:
    """Per alert, its latest acknowledgement: a row of alert_id, at, by, by_role, note."""
    rows = session.connection().execute(_ACKS, {"ids": list(alert_ids)}).all()
    return {r.alert_id: r for r in rows}  # in time order: the last one wins


def record_history(session: Session, events: Sequence[dict]) -> None:
    """Events that need no id back (acknowledged, snoozed)."""
    if events:
        session.connection().execute(_INSERT_EVENTS, list(events))


def announced(session: Session, alert_ids: Iterable[int], periods: Iterable[str]) -> set[tuple[int, str, str]]:
    """(alert id, period, rating) that a state-changing event of these alerts named for these periods."""
    ids, ps = sorted(set(alert_ids)), sorted(set(periods))
    if not ids or not ps:
        return set()
    return {(r.alert_id, r.period, r.to_state) for r in session.connection().execute(_ANNOUNCED, {"ids": ids,
                                                                                              "periods": ps})}


def record_corrections(session: Session, provider: str, return_id: int, found: Sequence[Correction],
                       now: dt.datetime) -> None:
    """Write `corrected` events (the alert rows do not change)."""
    if found:
        session.connection().execute(_INSERT_EVENTS, [
            dict(alert_id=c.alert_id, return_id=return_id, rule_id=c.rule_id, subject=c.subject, provider=provider,
                 team=c.team, from_state=c.from_state, to_state=c.to_state, kind="corrected", period=c.period,
                 value=c.value, at=now) for c in found])


def record_returning_ids(session: Session, events: Sequence[dict]) -> list[int]:
    """Events whose ids the notify pipeline needs (reminders: one per red alert a week)."""
    return list(session.connection().execute(_INSERT_EVENTS_RETURNING, list(events)).scalars())


def get(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def of_rules(session: Session, rule_ids: Sequence[str], subject: str | None = None) -> Sequence[Alert]:
    if subject:
        return session.execute(_OF_RULES_SUBJECT, {"rule_ids": list(rule_ids), "subject": subject}).scalars().all()
    return session.execute(_OF_RULES, {"rule_ids": list(rule_ids)}).scalars().all()


def add_snoozes(session: Session, snoozes: Sequence[Snooze]) -> None:
    session.add_all(snoozes)
