"""The notify pipeline's sending half: claim -> send -> record. One delivery per call.

Claim (pending -> sending, attempt recorded) and commit BEFORE sending; record the outcome
AFTER. A crash between the two leaves the delivery 'sending': it is never sent again
automatically (that could be a duplicate) but turned 'unknown' by `recover_stale` and listed
by `kpi-alerts deliveries --failed` for a person to re-queue. Failures are retried with
exponential backoff and jitter until the attempts run out, then marked 'failed'.

Core statements, not ORM loads: a digest chunk runs this 500 times in a row.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import Channel, Outcome, OutgoingMessage, Recipient, SendResult
from alerts.notify.retry import backoff_seconds
from alerts.secrets import signing_key
from alerts.store.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from alerts.unsubscribe import make_token, unsubscribe_headers, unsubscribe_url, with_link
from config import Settings

_DELIVERIES = Delivery.__table__
_ATTEMPTS = DeliveryAttempt.__table__
_D, _A = _DELIVERIES.c, _ATTEMPTS.c
# Built once: a digest chunk runs them 500 times in a row.
_CLAIM = (update(_DELIVERIES)
          .where(_D.id == bindparam("delivery"), _D.status == "pending", _D.next_attempt_at <= bindparam("now"))
          .values(status="sending", attempts=_D.attempts + 1, claimed_at=bindparam("now"))
          .returning(_D.attempts, _D.subscriber_id, _D.channel, _D.key, _D.subject, _D.body_html, _D.body_text,
                     _D.severity))
_START = insert(_ATTEMPTS).returning(_A.id)
_FINISH = (update(_ATTEMPTS).where(_A.id == bindparam("attempt_row"))
           .values(finished_at=bindparam("finished"), outcome=bindparam("result"), detail=bindparam("text")))
_RECIPIENT = select(Subscriber.name, Subscriber.email, Subscriber.teams_url).where(Subscriber.id == bindparam("who"))
_STATUS = select(Delivery.status).where(Delivery.id == bindparam("delivery"))


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds (status 'sending') and the attempt on record for it."""

    id: int
    attempt_id: int
    attempts: int
    subscriber_id: int
    channel: str
    key: str
    subject: str
    html: str
    text: str
    severity: str
    claimed_at: dt.datetime


def claim(session: Session, delivery_id: int, now: dt.datetime) -> Claimed | None:
    """pending -> sending, one attempt more, the attempt recorded; None when it is not due (or
    not pending). Not committed: the caller commits before anything leaves."""
    row = session.execute(_CLAIM, {"delivery": delivery_id, "now": now}).one_or_none()
    if row is None:
        return None
    attempt_id = session.execute(_START, {"delivery_id": delivery_id, "attempt": row.attempts,
                                          "started_at": now}).scalar_one()
    return Claimed(delivery_id, attempt_id, row.attempts, row.subscriber_id, row.channel, row.key, row.subject,
                   row.body_html, row.body_text, row.severity, now)


def send(session: Session, settings: Settings, d: Claimed, channels: Mapping[str, Channel] = CHANNELS) -> SendResult:
    """Hand a claimed delivery to its channel. Emails get the RFC 8058 unsubscribe headers and
    link, signed now so the token's lifetime starts when the email leaves."""
    who = session.execute(_RECIPIENT, {"who": d.subscriber_id}).one_or_none()
    channel = channels.get(d.channel)
    if who is None or channel is None:
        return SendResult(Outcome.CONFIG_ERROR, f"no subscriber {d.subscriber_id} or channel {d.channel!r}", 0.0)
    html, text, headers = d.html, d.text, {}
    if d.channel == "email" and settings.base_url:
        url = unsubscribe_url(settings.base_url,
                              make_token(signing_key(session, settings), d.subscriber_id, d.claimed_at))
        headers = unsubscribe_headers(settings.base_url, url.rpartition("token=")[2])
        html, text = with_link(html, url), with_link(text, url)
    message = OutgoingMessage(key=d.key, subject=d.subject, html=html, text=text, severity=d.severity,
                              headers=headers)
    return channel.send(Recipient(*who), message, settings)


def record(session: Session, settings: Settings, d: Claimed, result: SendResult,
           rng: random.Random | None = None) -> str:
    """The outcome of a claimed delivery's attempt; returns its new status. Not committed."""
    outcome, detail = result.outcome, result.detail
    finished = utcnow()
    if outcome is Outcome.SENT:
        values = dict(status="sent", sent_at=finished, last_error=None)
    elif outcome is Outcome.UNKNOWN:
        values = dict(status="unknown", last_error=f"outcome unknown (not re-sent automatically): {detail}")
    elif outcome is Outcome.FAILED and d.attempts < settings.delivery_max_attempts:
        wait = backoff_seconds(d.attempts, settings.delivery_backoff_base, settings.delivery_backoff_max, rng)
        values = dict(status="pending", next_attempt_at=d.claimed_at + dt.timedelta(seconds=wait), last_error=detail)
    else:
        values = dict(status="failed", last_error=detail)
    session.execute(_FINISH, {"attempt_row": d.attempt_id, "finished": finished, "result": outcome.value,
                              "text": detail})
    session.execute(update(_DELIVERIES).where(_D.id == d.id).values(**values))
    return values["status"]


def _status(session: Session, delivery_id: int) -> str:
    status = session.execute(_STATUS, {"delivery": delivery_id}).scalar_one_or_none()
    return status or "missing"


def _fault(settings: Settings) -> None:
    if settings.fault_point == "after_send":
        os._exit(137)  # test-only: die between the send and its record


def deliver(session: Session, settings: Settings, delivery_id: int, now: dt.datetime | None = None,
            rng: random.Random | None = None, channels: Mapping[str, Channel] = CHANNELS) -> str:
    """Attempt one delivery if it is due; returns its status afterwards."""
    d = claim(session, delivery_id, now or utcnow())
    session.commit()  # the claim and the attempt are on record before anything leaves
    if d is None:
        return _status(session, delivery_id)
    result = send(session, settings, d, channels)
    _fault(settings)
    status = record(session, settings, d, result, rng)
    session.commit()
    return status


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
    emails over one SMTP session. One commit per delivery, not two: a delivery's outcome and the
    next one's claim are recorded together, so each claim is still on record before its send and
    each outcome after it. When the mail server cannot be reached, or at `deadline`
    (time.monotonic(); a task's time limit), the chunk stops: the rest stay pending, untouched,
    for the sweep. Returns the count of each resulting status."""
    from alerts.notify.channels.bulk_email import BulkEmail

    statuses: Counter = Counter()
    try:
        bulk = BulkEmail(settings)
    except ValueError:  # no usable email URL: each delivery records the config error
        bulk = None
    channels = {**CHANNELS, "email": bulk} if bulk else CHANNELS
    todo = deque(delivery_ids)
    try:
        d = _claim_next(session, todo, now, statuses)
        session.commit()
        while d is not None:
            result = send(session, settings, d, channels)
            _fault(settings)
            statuses[record(session, settings, d, result, rng)] += 1
            if (bulk is not None and bulk.unavailable) or (deadline is not None and time.monotonic() > deadline):
                session.commit()
                statuses["not attempted"] += len(todo)
                break
            d = _claim_next(session, todo, now, statuses)
            session.commit()  # this outcome and the next claim, before the next send
    finally:
        if bulk is not None:
            bulk.close()
    return statuses


def _claim_next(session: Session, todo: deque[int], now: dt.datetime | None, statuses: Counter) -> Claimed | None:
    """Claim the next due delivery of `todo` (consumed from the front); the ones not due are
    counted by their status as they are passed over."""
    while todo:
        delivery_id = todo.popleft()
        d = claim(session, delivery_id, now or utcnow())
        if d is not None:
            return d
        statuses[_status(session, delivery_id)] += 1
    return None
