"""Landing a parsed return: one transaction stores the return and its observations.

A byte-identical file is a duplicate and changes nothing. A return for a provider, kind and
period already held is a restatement: the old observations stay, marked not current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.store.models import Observation, ReturnRecord
from returns import ParsedReturn

LandStatus = Literal["accepted", "duplicate", "restated"]


@dataclass(frozen=True)
class Landed:
    return_id: int
    status: LandStatus
    provider: str
    kind: str
    periods: tuple[str, ...]


def _duplicate(session: Session, sha256: str) -> Landed | None:
    rec = session.execute(select(ReturnRecord).where(ReturnRecord.sha256 == sha256)).scalars().first()
    if rec is None:
        return None
    return Landed(rec.id, "duplicate", rec.provider, rec.kind, tuple(rec.periods.split(",")))


def land(session: Session, parsed: ParsedReturn) -> Landed:
    found = _duplicate(session, parsed.sha256)
    if found is not None:
        return found
    try:
        superseded = session.execute(
            update(Observation)
            .where(Observation.provider == parsed.provider, Observation.kind == parsed.kind,  # type: ignore[arg-type]
                   Observation.period.in_(parsed.periods), Observation.current)  # type: ignore[attr-defined]
            .values(current=False)
        ).rowcount
        status: LandStatus = "restated" if superseded else "accepted"
        record = ReturnRecord(provider=parsed.provider, kind=parsed.kind, periods=",".join(parsed.periods),
                              filename=parsed.filename, sha256=parsed.sha256, status=status,
                              rows=len(parsed.observations))
        session.add(record)
        session.flush()
        rows = [dict(return_id=record.id, provider=parsed.provider, kind=parsed.kind, period=o.period,
                     measure=o.measure, value=o.value, team=o.team, service=o.service, worker=o.worker,
                     asye=o.asye, current=True) for o in parsed.observations]
        if rows:
            session.execute(insert(Observation.__table__), rows)  # Core executemany: one statement, no ORM objects
        session.commit()
    except IntegrityError:
        session.rollback()  # the same file landed concurrently: it is a duplicate
        found = _duplicate(session, parsed.sha256)
        if found is None:
            raise
        return found
    return Landed(record.id, status, parsed.provider, parsed.kind, parsed.periods)  # type: ignore[arg-type]
