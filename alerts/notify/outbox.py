"""The notify pipeline's planning half, run inside the transaction that writes the alert
transitions: route -> group -> mute -> dedup -> render -> outbox rows (deliveries) and
notification-log rows. A crash before commit loses nothing and sends nothing; after
commit, the deliver task sends what the outbox holds."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import insert, select
from sqlmodel import Session

from alerts.notify.changes import Change
from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import Recipient
from alerts.notify.dedup import dedup
from alerts.notify.group import Group, group
from alerts.notify.mute import Silence, mute
from alerts.notify.render import render
from alerts.notify.route import Route, route
from alerts.store.models import Delivery, NotificationLog, Snooze, Subscriber, Subscription

Headers = dict[str, str]


def load_routes(session: Session, subscriber_ids: list[int] | None = None
                ) -> tuple[list[Route], dict[int, Recipient]]:
    """Every subscription as a Route, and its subscriber as a Recipient; only `subscriber_ids`'
    when given (a digest chunk)."""
    query = select(Subscription, Subscriber).join(Subscriber)
    if subscriber_ids is not None:
        query = query.where(Subscriber.id.in_(subscriber_ids))  # type: ignore[union-attr]
    rows = session.execute(query).all()
    routes, recipients = [], {}
    for sub, who in rows:
        routes.append(Route(
            subscription_id=sub.id, subscriber_id=who.id,
            indicators=frozenset(i.upper() if i[:2].upper() == "PI" else i for i in json.loads(sub.indicators)),
            tags=frozenset(json.loads(sub.tags)), providers=frozenset(json.loads(sub.providers)),
            teams=frozenset(json.loads(sub.teams)), transitions=frozenset(json.loads(sub.transitions)),
            min_severity=sub.min_severity, delivery=sub.delivery,
        ))
        recipients[who.id] = Recipient(who.name, who.email, who.teams_url)
    return routes, recipients


def load_silences(session: Session, now: dt.datetime) -> list[Silence]:
    rows = session.execute(select(Snooze.rule_id, Snooze.subject, Snooze.until).where(Snooze.until > now)).all()
    return [Silence(r, s, _aware(u)) for r, s, u in rows]


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # SQLite hands datetimes back naive


def plan(session: Session, changes: list[Change], now: dt.datetime, base_url: str = "",
         reminder_day: str | None = None) -> list[int]:
    """Write deliveries for `changes`; returns their ids (to hand to the deliver task after commit)."""
    if not changes:
        return []
    routes, recipients = load_routes(session)
    if not routes:
        return []
    channels = {sid: [name for name, ch in CHANNELS.items() if ch.accepts(r)] for sid, r in recipients.items()}
    groups = group(route(changes, routes), channels, reminder_day)
    groups = mute(groups, load_silences(session, now), now)
    ids = [c.event_id for c in changes]
    logged = {tuple(r) for r in session.execute(
        select(NotificationLog.event_id, NotificationLog.subscriber_id, NotificationLog.channel)
        .where(NotificationLog.event_id.in_(ids)))}  # type: ignore[attr-defined]
    groups = dedup(groups, logged)  # type: ignore[arg-type]
    return write(session, groups, recipients, now, base_url)


def write(session: Session, groups: list[Group], recipients: dict[int, Recipient], now: dt.datetime,
          base_url: str = "") -> list[int]:
    if not groups:
        return []
    rows = []
    for g in groups:
        msg = render(g, recipients[g.subscriber_id].name, base_url)
        rows.append(dict(key=msg.key, subscriber_id=g.subscriber_id, channel=g.channel,
                         return_id=g.changes[0].return_id, subject=msg.subject, body_html=msg.html,
                         body_text=msg.text, severity=msg.severity,
                         events=json.dumps([c.event_id for c in g.changes]), status="pending", attempts=0,
                         next_attempt_at=now, created_at=now))
    table = Delivery.__table__
    ids = list(session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
    session.execute(insert(NotificationLog.__table__), [
        dict(event_id=c.event_id, subscriber_id=g.subscriber_id, channel=g.channel, delivery_id=did)
        for g, did in zip(groups, ids, strict=True) for c in g.changes
    ])
    return ids
