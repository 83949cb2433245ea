"""Read models for the CLI (and later the HTTP API): plain rows; their JSON shape is the CLI's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from alerts.store import alerts as alert_store
from alerts.store import outbox
from alerts.store.models import Alert, AlertEvent, RatingRecord


@dataclass(frozen=True)
class StatusRow:
    """The latest rating of a (rule, subject), with its alert's state and since when."""

    rule_id: str
    subject: str
    provider: str
    period: str
    value: float
    rating: str | None
    alert: str | None
    since: str | None
    alert_id: int | None


@dataclass(frozen=True)
class HistoryRow:
    """One rated period, with the bands and rule version it was rated against."""

    rule_id: str
    subject: str
    period: str
    value: float
    rating: str | None
    thresholds: dict
    rule_version: str


def current_status(session: Session, provider: str | None = None) -> list[StatusRow]:
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
        out.append(StatusRow(r.rule_id, r.subject, r.provider, r.period, r.value, r.rating,
                             a.state if a else None, a.since_period if a else None, a.id if a else None))
    return out


def history(session: Session, rule_ids: list[str], provider: str | None = None) -> list[HistoryRow]:
    """The current rated series of `rule_ids`, by subject and period."""
    q = (select(RatingRecord).where(RatingRecord.rule_id.in_(rule_ids), RatingRecord.current)  # type: ignore[attr-defined]
         .order_by(RatingRecord.subject, RatingRecord.period))
    if provider:
        q = q.where(RatingRecord.provider == provider)
    return [HistoryRow(r.rule_id, r.subject, r.period, r.value, r.rating, r.thresholds, r.rule_version)
            for r in session.execute(q).scalars()]


def subject_history(session: Session, rule_ids: list[str], provider: str | None, subject: str | None = None
                    ) -> tuple[list[HistoryRow], list[AlertEvent]]:
    """One subject's rated series and alert history under these rules: `subject`, else the
    provider, else the first subject rated (the indicator page and its JSON)."""
    rows = history(session, rule_ids, provider or None)
    chosen = subject or provider or (rows[0].subject if rows else "")
    rows = [r for r in rows if r.subject == chosen]
    return rows, events_of(session, rule_ids, chosen) if chosen else []


def current_ratings(session: Session) -> list[RatingRecord]:
    """Every current rating (the demo's month-by-month table)."""
    return list(session.execute(select(RatingRecord).where(RatingRecord.current)).scalars())


def all_alert_events(session: Session) -> list[AlertEvent]:
    """Every alert event in the order it happened (the demo's transition list)."""
    return list(session.execute(select(AlertEvent).order_by(AlertEvent.id)).scalars())


def events_of(session: Session, rule_ids: list[str], subject: str) -> list[AlertEvent]:
    """One subject's alert history under these rules, oldest first (transitions, acknowledgements,
    snoozes, corrections): the indicator page."""
    q = (select(AlertEvent).where(AlertEvent.rule_id.in_(rule_ids), AlertEvent.subject == subject)  # type: ignore[attr-defined]
         .order_by(AlertEvent.id))
    return list(session.execute(q).scalars())


@dataclass(frozen=True)
class OpenAlert:
    """An alert outside green, with its latest acknowledgement and any snooze in force."""

    id: int
    rule_id: str
    subject: str
    provider: str
    team: str | None
    state: str
    period: str
    value: float
    since: str
    acked_at: dt.datetime | None
    acked_by: str | None
    ack_note: str | None
    snoozed_until: dt.datetime | None
    acked_role: str | None = None  # the acknowledger's role then; None: the command line


def open_alerts(session: Session, now: dt.datetime, provider: str | None = None) -> list[OpenAlert]:
    """Alerts now amber or red, red first, then the longest outside green."""
    q = select(Alert).where(Alert.state.in_(("amber", "red")))  # type: ignore[attr-defined]
    if provider:
        q = q.where(Alert.provider == provider)
    found = list(session.execute(q).scalars())
    acks = alert_store.last_acknowledgements(session, [a.id for a in found if a.id is not None])
    silences = outbox.silences(session, now)
    out = []
    for a in found:
        ack = acks.get(a.id)
        until = max((s.until for s in silences if s.rule_id == a.rule_id and s.subject in (None, a.subject)),
                    default=None)
        out.append(OpenAlert(a.id, a.rule_id, a.subject, a.provider, a.team, a.state, a.period,  # type: ignore[arg-type]
                             a.value, a.since_period, ack.at if ack else None, ack.by if ack else None,
                             ack.note if ack else None, until, ack.by_role if ack else None))
    return sorted(out, key=lambda a: (a.state != "red", a.since, a.provider, a.rule_id, a.subject))
