"""The notify pipeline's sending half: claim -> send -> record.

Claim (pending -> sending, attempt recorded) and commit BEFORE sending; record the outcome
AFTER. A crash between the two leaves the delivery 'sending': it is never sent again
automatically (that could be a duplicate) but turned 'unknown' by `recover_stale` and listed
by `kpi-alerts deliveries --failed` for a person to re-queue. Failures are retried with
exponential backoff and jitter until the attempts run out, then marked 'failed'.

Each delivery row names its channel, and only that channel sends it: an alert's email or Teams
card through Apprise, a digest through the digest sender (its own SMTP session), whether it is
one of a chunk (deliver_many) or retried alone (deliver). The statements are in store/deliveries.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from alerts.notify.channels import senders
from alerts.notify.channels.base import Channel, OutgoingMessage, Recipient, SendResult, SendStatus
from alerts.notify.retry import backoff_seconds
from alerts.notify.unsubscribe import make_token, unsubscribe_headers, unsubscribe_url, with_link
from alerts.store import deliveries as store
from alerts.store.errors import unreachable
from alerts.store.models import utcnow
from alerts.store.secrets import signing_key
from config import Settings

log = logging.getLogger(__name__)


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
    """None when it is not due (or not pending). Not committed: the caller commits before
    anything leaves."""
    got = store.claim(session, delivery_id, now)
    if got is None:
        return None
    row, attempt_id = got
    return Claimed(delivery_id, attempt_id, row.attempts, row.subscriber_id, row.channel, row.key, row.subject,
                   row.body_html, row.body_text, row.severity, now)


def send(session: Session, settings: Settings, d: Claimed, channels: Mapping[str, Channel]) -> SendResult:
    """Hand a claimed delivery to its channel. Emails get the RFC 8058 unsubscribe headers and
    link, signed now with the subscriber's current links version (a revocation before the send
    is honoured)."""
    who = store.recipient(session, d.subscriber_id)
    channel = channels.get(d.channel)
    if who is None or channel is None:
        return SendResult(SendStatus.CONFIG_ERROR, f"no subscriber {d.subscriber_id} or channel {d.channel!r}", 0.0)
    name, email, teams_url, links_version, unsubscribed_at = who
    if unsubscribed_at is not None:  # one click means nothing more, however long ago it was planned
        return SendResult(SendStatus.WITHDRAWN, "the subscriber unsubscribed before it was sent", 0.0)
    html, text, headers = d.html, d.text, {}
    if channel.unsubscribe_link and settings.base_url:
        token = make_token(signing_key(session, settings), d.subscriber_id, links_version)
        url = unsubscribe_url(settings.base_url, token)
        headers = unsubscribe_headers(settings.base_url, token)
        html, text = with_link(html, url), with_link(text, url)
    message = OutgoingMessage(key=d.key, subject=d.subject, html=html, text=text, severity=d.severity,
                              headers=headers)
    return channel.send(Recipient(name, email, teams_url), message, settings)


def record(session: Session, settings: Settings, d: Claimed, result: SendResult,
           rng: random.Random | None = None) -> str:
    """The outcome of a claimed delivery's attempt; returns its new status. Not committed."""
    status, detail = result.status, result.detail
    finished = utcnow()  # when the attempt ended, as measured: not the run's clock
    store.finish_attempt(session, d.attempt_id, finished, status.value, detail)
    if status is SendStatus.SENT:
        store.mark_sent(session, d.id, finished)
        return "sent"
    if status is SendStatus.WITHDRAWN:
        store.mark_withdrawn(session, d.id, detail)
        return "withdrawn"
    if status is SendStatus.UNKNOWN:
        store.mark_unknown(session, d.id, f"outcome unknown (not re-sent automatically): {detail}")
        return "unknown"
    if status is SendStatus.FAILED and d.attempts < settings.delivery_max_attempts:
        wait = backoff_seconds(d.attempts, settings.delivery_backoff_base, settings.delivery_backoff_max, rng)
        store.mark_retry(session, d.id, d.claimed_at + dt.timedelta(seconds=wait), detail)
        return "pending"
    store.mark_failed(session, d.id, detail)
    return "failed"


def deliver(session: Session, settings: Settings, delivery_id: int, now: dt.datetime | None = None,
            rng: random.Random | None = None, channels: Mapping[str, Channel] | None = None) -> str:
    """Attempt one delivery if it is due; returns its status afterwards. A digest goes over a
    short SMTP session of its own, through the same sender as its chunk."""
    (status,) = deliver_many(session, settings, [delivery_id], now, rng, channels=channels)
    return status


def deliver_many(session: Session, settings: Settings, delivery_ids: list[int], now: dt.datetime | None = None,
                 rng: random.Random | None = None, deadline: float | None = None,
                 channels: Mapping[str, Channel] | None = None) -> Counter:
    """Each delivery claimed, sent by its own channel and recorded; a chunk's digests over one
    SMTP session. One commit per delivery, not two: a delivery's outcome and the next one's claim
    are recorded together, so each claim is still on record before its send and each outcome
    after it. When a channel cannot work at all (the mail server cannot be reached), or at
    `deadline` (time.monotonic(); a task's time limit), the run stops: the rest stay pending,
    untouched, for the sweep. `channels`: by channel name (default: senders(settings)); the
    caller closes the ones it passes. Returns the count of each resulting status."""
    own = channels is None
    using = senders(settings) if channels is None else channels
    statuses: Counter = Counter()
    todo = deque(delivery_ids)
    try:
        d = _claim_next(session, todo, now, statuses)
        session.commit()  # the claim and the attempt are on record before anything leaves
        while d is not None:
            result = send(session, settings, d, using)
            used = using.get(d.channel)
            stop = (used is not None and used.unavailable) or (deadline is not None and time.monotonic() > deadline)
            status, d = _record_and_claim_next(session, settings, d, result, rng, todo, now, statuses, not stop)
            statuses[status] += 1
            if stop:
                if todo:
                    statuses["not attempted"] += len(todo)
                break
    finally:
        if own:
            for channel in using.values():
                channel.close()
    return statuses


RECORD_PATIENCE_SECONDS = 120.0  # how long a sent message's outcome waits for the database to come back


def _record_and_claim_next(session: Session, settings: Settings, d: Claimed, result: SendResult,
                           rng: random.Random | None, todo: deque[int], now: dt.datetime | None,
                           statuses: Counter, claim_next: bool) -> tuple[str, Claimed | None]:
    """Record `d`'s outcome and (`claim_next`) claim the next delivery, committed together.
    The message has left already, so its outcome must not be lost: while the database cannot
    be reached (PostgreSQL restarting, a dropped connection) the same writes are retried, with
    backoff, for up to RECORD_PATIENCE_SECONDS; after that the error is raised and the delivery,
    left 'sending', turns 'unknown' (never sent twice)."""
    give_up = time.monotonic() + RECORD_PATIENCE_SECONDS
    wait = 0.2
    while True:
        queued, counted = deque(todo), Counter(statuses)
        try:
            status = record(session, settings, d, result, rng)
            following = _claim_next(session, todo, now, statuses) if claim_next else None
            session.commit()
            return status, following
        except Exception as exc:
            if not unreachable(exc) or time.monotonic() + wait > give_up:
                raise
            session.rollback()
            todo.clear()
            todo.extend(queued)
            statuses.clear()
            statuses.update(counted)
            log.warning("delivery %s was %s; the database is unreachable (%s): recording it again in %.1f s",
                        d.id, result.status.value, type(exc).__name__, wait)
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def _claim_next(session: Session, todo: deque[int], now: dt.datetime | None, statuses: Counter) -> Claimed | None:
    """Claim the next due delivery of `todo` (consumed from the front); the ones not due are
    counted by their status as they are passed over. Without `now`, each claim is stamped when
    it is made: a long chunk's last claim must not look stale to the sweep."""
    while todo:
        delivery_id = todo.popleft()
        d = claim(session, delivery_id, now or utcnow())
        if d is not None:
            return d
        statuses[store.status(session, delivery_id)] += 1
    return None
