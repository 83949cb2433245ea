"""The notify pipeline's statements, planning side: what the stages read (subscriptions and
their subscribers, active snoozes, the notification log) and what planning writes (outbox rows
in `deliveries`, and `notification_log` rows), inside the transaction that writes the alert
transitions. Statements built once per process."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select
from sqlmodel import Session

from alerts.notify.channels.base import Recipient
from alerts.notify.filter import Silence
from alerts.notify.route import Route
from alerts.store.models import Delivery, NotificationLog, Snooze, Subscriber, Subscription

_SUB, _WHO = Subscription.__table__.c, Subscriber.__table__.c
_COLUMNS = (_SUB.id, _WHO.id.label("subscriber_id"), _SUB.indicators, _SUB.tags, _SUB.providers, _SUB.teams,
            _SUB.transitions, _SUB.min_severity, _SUB.delivery, _WHO.name, _WHO.email, _WHO.teams_url)
_ROUTES = select(*_COLUMNS).join_from(Subscription.__table__, Subscriber.__table__).order_by(_SUB.id)
_ROUTES_OF = _ROUTES.where(_WHO.id.in_(bindparam("subscribers", expanding=True)))
_SILENCES = select(Snooze.rule_id, Snooze.subject, Snooze.until).where(Snooze.until > bindparam("now"))
_LOG = NotificationLog.__table__
_LOGGED = select(_LOG.c.event_id, _LOG.c.subscriber_id, _LOG.c.channel).where(
    _LOG.c.event_id.in_(bindparam("events", expanding=True)))
_DELIVERIES = Delivery.__table__
_ADD_DELIVERIES = insert(_DELIVERIES).returning(_DELIVERIES.c.id, sort_by_parameter_order=True)
_ADD_LOG = insert(_LOG)


def _indicator(i: str) -> str:
    return i.upper() if i[:2].upper() == "PI" else i


def load_routes(session: Session, subscriber_ids: Sequence[int] | None = None
                ) -> tuple[list[Route], dict[int, Recipient]]:
    """Every subscription as a Route, and its subscriber as a Recipient; only `subscriber_ids`'
    when given (a digest chunk)."""
    rows = (session.execute(_ROUTES) if subscriber_ids is None
            else session.execute(_ROUTES_OF, {"subscribers": list(subscriber_ids)})).all()
    routes, recipients = [], {}
    for r in rows:
        routes.append(Route(
            subscription_id=r.id, subscriber_id=r.subscriber_id,
            indicators=frozenset(_indicator(i) for i in json.loads(r.indicators)),
            tags=frozenset(json.loads(r.tags)), providers=frozenset(json.loads(r.providers)),
            teams=frozenset(json.loads(r.teams)), transitions=frozenset(json.loads(r.transitions)),
            min_severity=r.min_severity, delivery=r.delivery,
        ))
        recipients[r.subscriber_id] = Recipient(r.name, r.email, r.teams_url)
    return routes, recipients


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # SQLite hands datetimes back naive


def load_silences(session: Session, now: dt.datetime) -> list[Silence]:
    return [Silence(r, s, _aware(u)) for r, s, u in session.execute(_SILENCES, {"now": now}).all()]


def load_logged(session: Session, event_ids: Sequence[int]) -> frozenset[tuple[int, int, str]]:
    """(event id, subscriber id, channel) of these events already in the notification log."""
    return frozenset((e, s, c) for e, s, c in session.execute(_LOGGED, {"events": list(event_ids)}).all())


def add_deliveries(session: Session, rows: list[dict]) -> list[int]:
    """Outbox rows (Delivery columns); their ids in the same order."""
    return list(session.execute(_ADD_DELIVERIES, rows).scalars()) if rows else []


def add_log(session: Session, rows: list[dict]) -> None:
    """notification_log rows: event_id, subscriber_id, channel, delivery_id."""
    if rows:
        session.execute(_ADD_LOG, rows)
