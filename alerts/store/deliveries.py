"""The delivery log's statements: claim, record, requeue, due, recover_stale, statuses.

Core statements built once per process, not ORM loads: a digest chunk runs them 500 times in a
row. Nothing here commits except where a docstring says so; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlmodel import Session

from alerts.store.models import Delivery, DeliveryAttempt, Digest, Subscriber

_DELIVERIES = Delivery.__table__
_ATTEMPTS = DeliveryAttempt.__table__
_D, _A = _DELIVERIES.c, _ATTEMPTS.c

_CLAIMABLE = (_D.id == bindparam("delivery"), _D.status == "pending", _D.next_attempt_at <= bindparam("now"))
_CLAIMED = dict(status="sending", attempts=_D.attempts + 1, claimed_at=bindparam("now"))
_CLAIMED_ROW = (_D.attempts, _D.subscriber_id, _D.channel, _D.key, _D.subject, _D.body_html, _D.body_text, _D.severity)
# SQLite: one writer at a time, so the guarded UPDATE is the claim. PostgreSQL: the row is
# locked FOR UPDATE SKIP LOCKED first, so a second worker passes over a delivery another is
# claiming at that moment instead of waiting for its transaction (and then finding it taken).
_CLAIM = update(_DELIVERIES).where(*_CLAIMABLE).values(**_CLAIMED).returning(*_CLAIMED_ROW)
_CLAIM_SKIP_LOCKED = (update(_DELIVERIES)
                      .where(_D.id.in_(select(_D.id).where(*_CLAIMABLE).with_for_update(skip_locked=True)))
                      .values(**_CLAIMED).returning(*_CLAIMED_ROW))
_START = insert(_ATTEMPTS).returning(_A.id)
_FINISH = (update(_ATTEMPTS).where(_A.id == bindparam("attempt_row"))
           .values(finished_at=bindparam("finished"), outcome=bindparam("result"), detail=bindparam("text")))
_RECIPIENT = select(Subscriber.name, Subscriber.email, Subscriber.teams_url, Subscriber.unsubscribe_version,
                    Subscriber.unsubscribed_at).where(Subscriber.id == bindparam("who"))
_STATUS = select(Delivery.status).where(Delivery.id == bindparam("delivery"))
_BY_ID = _D.id == bindparam("delivery")
# One statement per resulting status of an attempt (sent, unknown, retry later, failed).
_SENT = update(_DELIVERIES).where(_BY_ID).values(status="sent", sent_at=bindparam("at"), last_error=None)
_UNKNOWN = update(_DELIVERIES).where(_BY_ID).values(status="unknown", last_error=bindparam("error"))
_RETRY = update(_DELIVERIES).where(_BY_ID).values(status="pending", next_attempt_at=bindparam("at"),
                                                  last_error=bindparam("error"))
_WITHDRAWN = update(_DELIVERIES).where(_BY_ID).values(status="withdrawn", last_error=bindparam("error"))
_FAILED = update(_DELIVERIES).where(_BY_ID).values(status="failed", last_error=bindparam("error"))
_STALE = select(_D.id).where(_D.status == "sending", _D.claimed_at < bindparam("before"))
_MARK_STALE = (update(_DELIVERIES).where(_D.id.in_(bindparam("ids", expanding=True)))
               .values(status="unknown", last_error=bindparam("error")))
_DUE = select(_D.id).where(_D.status == "pending", _D.next_attempt_at <= bindparam("now")).order_by(_D.id)
_REQUEUE = (update(_DELIVERIES).where(_BY_ID, _D.status.in_(("failed", "unknown")))
            .values(status="pending", attempts=0, next_attempt_at=bindparam("now")))
_PENDING_DIGESTS = (select(_D.id).join(Digest.__table__, Digest.delivery_id == _D.id)
                    .where(Digest.week == bindparam("week"),
                           Digest.subscriber_id.in_(bindparam("subscribers", expanding=True)),  # type: ignore[attr-defined]
                           _D.status == "pending")
                    .order_by(_D.id))
_NEXT_ATTEMPT = select(_D.next_attempt_at).where(_BY_ID)

STALE_ERROR = ("the worker stopped during the send: it may have gone; "
               "not re-sent automatically (kpi-alerts deliveries retry ID)")


def claim(session: Session, delivery_id: int, now: dt.datetime) -> tuple[Row[Any], int] | None:
    """pending -> sending, one attempt more, the attempt recorded: (the delivery's row, the
    attempt's id); None when it is not due, not pending, or (PostgreSQL) being claimed by
    another transaction right now."""
    claim_it = _CLAIM_SKIP_LOCKED if session.get_bind().dialect.name == "postgresql" else _CLAIM
    row = session.execute(claim_it, {"delivery": delivery_id, "now": now}).one_or_none()
    if row is None:
        return None
    attempt_id = session.execute(_START, {"delivery_id": delivery_id, "attempt": row.attempts,
                                          "started_at": now}).scalar_one()
    return row, attempt_id


def recipient(session: Session, subscriber_id: int) -> Row[Any] | None:
    """(name, email, teams_url, unsubscribe_version, unsubscribed_at) of a subscriber."""
    return session.execute(_RECIPIENT, {"who": subscriber_id}).one_or_none()


def finish_attempt(session: Session, attempt_id: int, finished: dt.datetime, result: str, detail: str) -> None:
    session.execute(_FINISH, {"attempt_row": attempt_id, "finished": finished, "result": result, "text": detail})


def mark_sent(session: Session, delivery_id: int, at: dt.datetime) -> None:
    session.execute(_SENT, {"delivery": delivery_id, "at": at})


def mark_unknown(session: Session, delivery_id: int, error: str) -> None:
    session.execute(_UNKNOWN, {"delivery": delivery_id, "error": error})


def mark_retry(session: Session, delivery_id: int, at: dt.datetime, error: str) -> None:
    session.execute(_RETRY, {"delivery": delivery_id, "at": at, "error": error})


def mark_withdrawn(session: Session, delivery_id: int, why: str) -> None:
    session.execute(_WITHDRAWN, {"delivery": delivery_id, "error": why})


def mark_failed(session: Session, delivery_id: int, error: str) -> None:
    session.execute(_FAILED, {"delivery": delivery_id, "error": error})


def status(session: Session, delivery_id: int) -> str:
    return session.execute(_STATUS, {"delivery": delivery_id}).scalar_one_or_none() or "missing"


def next_attempt_at(session: Session, delivery_id: int) -> dt.datetime | None:
    return session.execute(_NEXT_ATTEMPT, {"delivery": delivery_id}).scalar_one_or_none()


def recover_stale(session: Session, now: dt.datetime, lease: dt.timedelta) -> list[int]:
    """Deliveries stuck in 'sending' (the worker died mid-send) become 'unknown'. Commits."""
    stale = list(session.execute(_STALE, {"before": now - lease}).scalars())
    if stale:
        session.execute(_MARK_STALE, {"ids": stale, "error": STALE_ERROR})
        session.commit()
    return stale


def due(session: Session, now: dt.datetime) -> list[int]:
    return list(session.execute(_DUE, {"now": now}).scalars())


def requeue(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """A person's decision: send a failed or unknown delivery again (fresh attempts). Commits."""
    n = session.execute(_REQUEUE, {"delivery": delivery_id, "now": now}).rowcount
    session.commit()
    return bool(n)


def pending_digests(session: Session, week: str, subscriber_ids: Sequence[int]) -> list[int]:
    """The week's digests of these subscribers still to send (a rerun after a crash, too)."""
    return list(session.execute(_PENDING_DIGESTS, {"week": week, "subscribers": list(subscriber_ids)}).scalars())


def delivery_log(session: Session, failed_only: bool = False) -> list[tuple[Delivery, str]]:
    """The delivery log as people read it (`kpi-alerts deliveries`), oldest first: each
    delivery with its subscriber's name."""
    q = select(Delivery, Subscriber.name).join(Subscriber).order_by(Delivery.id)
    if failed_only:
        q = q.where(Delivery.status.in_(("failed", "unknown")))  # type: ignore[attr-defined]
    return [(d, name) for d, name in session.execute(q).all()]
