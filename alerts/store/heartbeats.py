"""Heartbeats: when a periodic process (beat's scheduler) last ticked, for /healthz and
/metrics (issue 18: no silent stop)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from alerts.store.models import Heartbeat

SCHEDULER = "beat"


def record(session: Session, name: str, at: dt.datetime) -> None:
    """Upsert `name`'s last tick and commit (one row per name; one beat ticks at a time)."""
    row = session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, at=at))
    else:
        row.at = at
    session.commit()


def last(session: Session, name: str) -> dt.datetime | None:
    row = session.get(Heartbeat, name)
    return row.at if row is not None else None
