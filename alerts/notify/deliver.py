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
import time
from collections import Counter
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlmodel import Session

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import Channel, Outcome, OutgoingMessage, Recipient
from alerts.notify.retry import backoff_seconds
from alerts.secrets import signing_key
from alerts.store.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from alerts.unsubscribe import make_token, unsubscribe_headers, unsubscribe_url, with_link
from config import Settings


def claim(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """pending -> sending, one attempt more; not committed (the caller records the attempt in
    the same commit)."""
    return bool(session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending",
                               Delivery.next_attempt_at <= now)
        .values(status="sending", attempts=Delivery.attempts + 1, claimed_at=now)
    ).rowcount)


def deliver(session: Session, settings: Settings, delivery_id: int, now: dt.datetime | None = None,
            rng: random.Random | None = None, channels: Mapping[str, Channel] = CHANNELS) -> str:
    """Attempt one delivery if it is due; returns its status afterwards. `channels`: a digest
    chunk passes its BulkEmail (one SMTP session for the chunk) for "email"."""
    now = now or utcnow()
    if not claim(session, delivery_id, now):
        session.commit()
        row = session.get(Delivery, delivery_id)
        return row.status if row else "missing"
    d = session.get(Delivery, delivery_id)
    assert d is not None
    attempt = DeliveryAttempt(delivery_id=d.id, attempt=d.attempts, started_at=now)
    session.add(attempt)
    session.commit()  # the claim and the attempt are on record before anything leaves

    who = session.get(Subscriber, d.subscriber_id)
    channel = channels.get(d.channel)
    if who is None or channel is None:
        outcome, detail = Outcome.CONFIG_ERROR, f"no subscriber {d.subscriber_id} or channel {d.channel!r}"
    else:
        html, text, headers = d.body_html, d.body_text, {}
        if d.channel == "email" and settings.base_url:  # RFC 8058 one-click unsubscribe on every email
            url = unsubscribe_url(settings.base_url, make_token(signing_key(session, settings), d.subscriber_id, now))
            headers = unsubscribe_headers(settings.base_url, url.rpartition("token=")[2])
            html, text = with_link(html, url), with_link(text, url)
        message = OutgoingMessage(key=d.key, subject=d.subject, html=html, text=text,
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


def deliver_many(session: Session, settings: Settings, delivery_ids: list[int], now: dt.datetime | None = None,
                 rng: random.Random | None = None, deadline: float | None = None) -> Counter:
    """A chunk (a digest batch): each delivery claimed, sent and recorded as deliver() does, the
    emails over one SMTP session. When the mail server cannot be reached, or at `deadline`
    (time.monotonic(); a task's time limit), the chunk stops: the rest stay pending, untouched,
    for the sweep. Returns the count of each resulting status."""
    from alerts.notify.channels.bulk_email import BulkEmail

    statuses: Counter = Counter()
    try:
        bulk = BulkEmail(settings)
    except ValueError:  # no usable email URL: deliver() records the config error per delivery
        bulk = None
    channels = {**CHANNELS, "email": bulk} if bulk else CHANNELS
    try:
        for i, delivery_id in enumerate(delivery_ids):
            statuses[deliver(session, settings, delivery_id, now, rng, channels)] += 1
            if (bulk is not None and bulk.unavailable) or (deadline is not None and time.monotonic() > deadline):
                statuses["not attempted"] += len(delivery_ids) - i - 1
                break
    finally:
        if bulk is not None:
            bulk.close()
    return statuses
