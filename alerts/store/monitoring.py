"""What `GET /healthz` and `GET /metrics` read: a ping, and counts over returns and
deliveries (a few grouped reads per scrape, whatever the tables' size: the indexes on
`deliveries(status, next_attempt_at)` and `returns` cover them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlmodel import Session

from alerts.store.models import Delivery, ReturnRecord

RETURNS = ReturnRecord.__table__  # type: ignore[attr-defined]
DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]

_PING = text("SELECT 1")
# a held return counts as pending (it awaits confirmation); one a corrected file superseded while
# held is never evaluated, and not counted
_RETURNS_BY_KIND = (select(RETURNS.c.kind, RETURNS.c.evaluated_at.is_(None).label("pending"), func.count())
                    .where(RETURNS.c.superseded_by.is_(None))
                    .group_by(RETURNS.c.kind, RETURNS.c.evaluated_at.is_(None)))
_DELIVERIES = select(DELIVERIES.c.channel, DELIVERIES.c.status, func.count()).group_by(
    DELIVERIES.c.channel, DELIVERIES.c.status)
_OLDEST_PENDING = select(func.min(DELIVERIES.c.created_at)).where(DELIVERIES.c.status == "pending")


@dataclass(frozen=True)
class Snapshot:
    returns: dict[tuple[str, bool], int]  # (kind, awaiting evaluation) -> returns stored
    deliveries: dict[tuple[str, str], int]  # (channel, status) -> deliveries
    oldest_pending: dt.datetime | None  # created_at of the oldest delivery still pending


def ping(session: Session) -> None:
    """Raises when the database cannot be reached."""
    session.connection().execute(_PING).scalar_one()


def snapshot(session: Session) -> Snapshot:
    conn = session.connection()
    returns = {(kind, bool(pending)): n for kind, pending, n in conn.execute(_RETURNS_BY_KIND)}
    deliveries = {(channel, status): n for channel, status, n in conn.execute(_DELIVERIES)}
    oldest = conn.execute(_OLDEST_PENDING).scalar_one_or_none()
    if isinstance(oldest, str):  # func.min loses the column type on some backends
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return Snapshot(returns, deliveries, oldest)


def evaluated_after(session: Session, after: dt.datetime, limit: int = 10_000) -> list[tuple[dt.datetime, dt.datetime]]:
    """(received_at, evaluated_at) of returns rated after `after`, oldest first, at most `limit`."""
    q = (select(RETURNS.c.received_at, RETURNS.c.evaluated_at).where(RETURNS.c.evaluated_at > after)
         .order_by(RETURNS.c.evaluated_at).limit(limit))
    return [(r.received_at, r.evaluated_at) for r in session.connection().execute(q)]
