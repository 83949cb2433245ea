"""The notify pipeline's statements, planning side: what the stages read (subscriptions and
their subscribers, active snoozes, the notification log) and what planning writes (outbox rows
in `deliveries`, and `notification_log` rows), inside the transaction that writes the alert
transitions. Statements built once per process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select
from sqlmodel import Session

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
_BATCH_TARGETS = select(_DELIVERIES.c.subscriber_id, _DELIVERIES.c.channel).where(
    _DELIVERIES.c.key.like(bindparam("pattern"), escape="\\")).distinct()


def subscriptions(session: Session, subscriber_ids: Sequence[int] | None = None) -> list[Row[Any]]:
    """Every subscription with its subscriber's name and addresses (only `subscriber_ids`' when
    given: a digest chunk), as rows: id, subscriber_id, the JSON filters, min_severity,
    delivery, name, email, teams_url."""
    if subscriber_ids is None:
        return list(session.execute(_ROUTES).all())
    return list(session.execute(_ROUTES_OF, {"subscribers": list(subscriber_ids)}).all())


def silences(session: Session, now: dt.datetime) -> list[Row[Any]]:
    """(rule_id, subject, until) of the snoozes active at `now`."""
    return list(session.execute(_SILENCES, {"now": now}).all())


def load_logged(session: Session, event_ids: Sequence[int]) -> frozenset[tuple[int, int, str]]:
    """(event id, subscriber id, channel) of these events already in the notification log."""
    return frozenset((e, s, c) for e, s, c in session.execute(_LOGGED, {"events": list(event_ids)}).all())


def batch_targets(session: Session, batch: str) -> frozenset[tuple[int, str]]:
    """(subscriber id, channel) of the deliveries already planned in `batch` (a delivery key
    starts with its batch: 'reminders-2025-W15.s3.email.<hash>'), whatever their status."""
    escaped = batch.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(_BATCH_TARGETS, {"pattern": f"{escaped}.%"}).all()
    return frozenset((s, c) for s, c in rows)


def add_deliveries(session: Session, rows: list[dict]) -> list[int]:
    """Outbox rows (Delivery columns); their ids in the same order."""
    return list(session.execute(_ADD_DELIVERIES, rows).scalars()) if rows else []


def add_log(session: Session, rows: list[dict]) -> None:
    """notification_log rows: event_id, subscriber_id, channel, delivery_id."""
    if rows:
        session.execute(_ADD_LOG, rows)
