"""The notify pipeline, composed here and only here:

    load inputs (store/outbox) -> route -> group -> filter (muted, already sent, reminded this
    week) -> render
    -> write outbox rows and notification-log rows (store/outbox)

Each stage has one shape, `stage(items, inputs) -> items`, over plain data (`Inputs`); the
stages are pure. It runs inside the transaction that writes the alert transitions: a crash
before commit loses nothing and sends nothing; after commit, the deliver task sends what the
outbox holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session

from alerts.notify.changes import Change
from alerts.notify.channels import ALERTS, CHANNELS
from alerts.notify.channels.base import Recipient
from alerts.notify.filter import Silence, keep
from alerts.notify.group import Group, group_stage, reminder_batch
from alerts.notify.inputs import Inputs
from alerts.notify.render import render
from alerts.notify.route import Route, route_stage
from alerts.store import outbox

Stage = Callable[[Sequence[Any], Inputs], list[Any]]
STAGES: tuple[Stage, ...] = (route_stage, group_stage, keep)


def compose(changes: Sequence[Change], inputs: Inputs, stages: tuple[Stage, ...] = STAGES) -> list[Group]:
    """The stages in order over `changes`: the groups to send. Pure."""
    items: Sequence[Any] = changes
    for stage in stages:
        items = stage(items, inputs)
    return list(items)


def alert_channels(recipients: dict[int, Recipient]) -> dict[int, list[str]]:
    """subscriber id -> the alert channels it has an address on."""
    return {sid: [name for name in ALERTS if CHANNELS[name].accepts(r)] for sid, r in recipients.items()}


def _indicator(i: str) -> str:
    return i.upper() if i[:2].upper() == "PI" else i


def load_routes(session: Session, subscriber_ids: Sequence[int] | None = None
                ) -> tuple[list[Route], dict[int, Recipient]]:
    """Every subscription as a Route, and its subscriber as a Recipient; only `subscriber_ids`'
    when given (a digest chunk)."""
    routes, recipients = [], {}
    for r in outbox.subscriptions(session, subscriber_ids):
        routes.append(Route(
            subscription_id=r.id, subscriber_id=r.subscriber_id,
            indicators=frozenset(_indicator(i) for i in r.indicators), tags=frozenset(r.tags),
            providers=frozenset(r.providers), teams=frozenset(r.teams), transitions=frozenset(r.transitions),
            min_severity=r.min_severity, delivery=r.delivery,
        ))
        recipients[r.subscriber_id] = Recipient(r.name, r.email, r.teams_url)
    return routes, recipients


def load_inputs(session: Session, changes: Sequence[Change], now: dt.datetime, reminder_week: str | None = None
                ) -> Inputs:
    """Everything the stages read, in three statements (store/outbox; a fourth for a week's
    reminders: who already has one), as plain data."""
    subscriptions, recipients = load_routes(session)
    if not subscriptions:
        return Inputs(now, reminder_week=reminder_week)
    reminded = outbox.batch_targets(session, reminder_batch(reminder_week)) if reminder_week else frozenset()
    return Inputs(now=now, routes=subscriptions, recipients=recipients, channels=alert_channels(recipients),
                  silences=[Silence(r, s, u) for r, s, u in outbox.silences(session, now)],
                  logged=outbox.load_logged(session, [c.event_id for c in changes]), reminder_week=reminder_week,
                  reminded=reminded)


def outbox_rows(groups: list[Group], inputs: Inputs, base_url: str = "") -> list[dict]:
    """Each group rendered as a pending delivery row. Pure."""
    rows = []
    for g in groups:
        msg = render(g, inputs.recipients[g.subscriber_id].name, base_url)
        rows.append(dict(key=msg.key, subscriber_id=g.subscriber_id, channel=g.channel,
                         return_id=g.changes[0].return_id, subject=msg.subject, body_html=msg.html,
                         body_text=msg.text, severity=msg.severity,
                         events=[c.event_id for c in g.changes], status="pending", attempts=0,
                         next_attempt_at=inputs.now, created_at=inputs.now))
    return rows


def plan(session: Session, changes: list[Change], now: dt.datetime, base_url: str = "",
         reminder_week: str | None = None) -> list[int]:
    """Write deliveries for `changes`; returns their ids (to hand to the deliver task after commit)."""
    if not changes:
        return []
    inputs = load_inputs(session, changes, now, reminder_week)
    groups = compose(changes, inputs)
    ids = outbox.add_deliveries(session, outbox_rows(groups, inputs, base_url))
    outbox.add_log(session, [dict(event_id=c.event_id, subscriber_id=g.subscriber_id, channel=g.channel,
                                  delivery_id=did) for g, did in zip(groups, ids, strict=True) for c in g.changes])
    return ids
