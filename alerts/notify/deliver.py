"""The notify pipeline's sending half: send with retry -> record. One delivery per call.

Claim (pending -> sending, attempt recorded) and commit BEFORE sending; record the outcome
AFTER. A crash between the two leaves the delivery 'sending': it is never sent again
automatically (that could be a duplicate) but turned 'unknown' by `recover_stale` and listed
by `kpi-alerts deliveries --failed` for a person to re-queue. Failures are retried with
exponential backoff and jitter until the attempts run out, then marked 'failed'.
"""

from __future__ import annotations

import datetime as dt
import os
import random

from sqlalchemy import select, update
from sqlmodel import Session

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import Outcome, OutgoingMessage, Recipient
from alerts.notify.retry import backoff_seconds
from alerts.secrets import signing_key
from alerts.store.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from alerts.unsubscribe import make_token, unsubscribe_headers
from config import Settings


def claim(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    claimed = session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending",
                               Delivery.next_attempt_at <= now)
        .values(status="sending", attempts=Delivery.attempts + 1, claimed_at=now)
    ).rowcount
    session.commit()
    return bool(claimed)


def deliver(session: Session, settings: Settings, delivery_id: int, now: dt.datetime | None = None,
            rng: random.Random | None = None) -> str:
    """Attempt one delivery if it is due; returns its status afterwards."""
    now = now or utcnow()
    if not claim(session, delivery_id, now):
        row = session.get(Delivery, delivery_id)
        return row.status if row else "missing"
    d = session.get(Delivery, delivery_id)
    assert d is not None
    attempt = DeliveryAttempt(delivery_id=d.id, attempt=d.attempts, started_at=now)
    session.add(attempt)
    session.commit()  # the attempt is on record before anything leaves

    who = session.get(Subscriber, d.subscriber_id)
    channel = CHANNELS.get(d.channel)
    if who is None or channel is None:
        outcome, detail = Outcome.CONFIG_ERROR, f"no subscriber {d.subscriber_id} or channel {d.channel!r}"
    else:
        headers = {}
        if d.channel == "email" and settings.base_url:  # RFC 8058 one-click unsubscribe on every email
            token = make_token(signing_key(session, settings), d.subscriber_id, now)
            headers = unsubscribe_headers(settings.base_url, token)
        message = OutgoingMessage(key=d.key, subject=d.subject, html=d.body_html, text=d.body_text,
                                  severity=d.severity, headers=headers)
        result = channel.send(Recipient(who.name, who.email, who.teams_url), message, settings)
        outcome, detail = result.outcome, result.detail
    if settings.fault_point == "after_send":
        os._exit(137)  # test-only: die between the send and its record

    finished = utcnow()
    attempt.finished_at, attempt.outcome, attempt.detail = finished, outcome.value, detail
    if outcome is Outcome.SENT:
        d.status, d.sent_at, d.last_error = "sent", finished, None
    elif outcome is Outcome.UNKNOWN:
        d.status, d.last_error = "unknown", f"outcome unknown (not re-sent automatically): {detail}"
    elif outcome is Outcome.FAILED and d.attempts < settings.delivery_max_attempts:
        wait = backoff_seconds(d.attempts, settings.delivery_backoff_base, settings.delivery_backoff_max, rng)
        d.status, d.next_attempt_at, d.last_error = "pending", now + dt.timedelta(seconds=wait), detail
    else:
        d.status, d.last_error = "failed", detail
    session.add_all([d, attempt])
    session.commit()
    return d.status


def recover_stale(session: Session, now: dt.datetime, lease: dt.timedelta) -> list[int]:
    """Deliveries stuck in 'sending' (the worker died mid-send) become 'unknown'."""
    stale = list(session.execute(select(Delivery.id).where(
        Delivery.status == "sending", Delivery.claimed_at < now - lease)).scalars())  # type: ignore[operator]
    if stale:
        session.execute(update(Delivery).where(Delivery.id.in_(stale)).values(  # type: ignore[attr-defined]
            status="unknown", last_error="the worker stopped during the send: it may have gone; "
                                         "not re-sent automatically (kpi-alerts deliveries retry ID)"))
        session.commit()
    return stale


def due(session: Session, now: dt.datetime) -> list[int]:
    return list(session.execute(select(Delivery.id).where(
        Delivery.status == "pending", Delivery.next_attempt_at <= now).order_by(Delivery.id)).scalars())


def requeue(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """A person's decision: send a failed or unknown delivery again (fresh attempts)."""
    n = session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status.in_(  # type: ignore[attr-defined]
        ("failed", "unknown"))).values(status="pending", attempts=0, next_attempt_at=now)).rowcount
    session.commit()
    return bool(n)
