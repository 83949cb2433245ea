"""Every statement the weekly digest runs: the week's reads (ratings, acknowledgements,
events, returns, finance observations), the week cache's version, and the digest ledger.

Statements are built once per process (a worker plans chunk after chunk; a national week
reads 2,295 finance rows one provider at a time), with `bindparam` for what varies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Select, bindparam, func, insert, or_, select
from sqlalchemy.engine import Row as DbRow
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.store.models import AlertEvent, Delivery, Digest, Observation, RatingRecord, ReturnRecord, Subscriber

# --- the week's data ---------------------------------------------------------------------

_RATINGS = (
    select(RatingRecord.rule_id, RatingRecord.subject, RatingRecord.provider, RatingRecord.team,
           RatingRecord.period, RatingRecord.value, RatingRecord.rating, RatingRecord.thresholds,
           RatingRecord.kind, RatingRecord.return_id)
    .where(RatingRecord.evaluated_at < bindparam("cutoff"), RatingRecord.rating.is_not(None))  # type: ignore[union-attr]
    .order_by(RatingRecord.id)
)
_ACKS = (select(AlertEvent.rule_id, AlertEvent.subject, AlertEvent.at, AlertEvent.by, AlertEvent.note)
         .where(AlertEvent.kind == "acknowledged", AlertEvent.at < bindparam("cutoff")).order_by(AlertEvent.id))
_EVENTS = (
    select(AlertEvent.at, AlertEvent.kind, AlertEvent.rule_id, AlertEvent.provider, AlertEvent.subject,
           AlertEvent.team, AlertEvent.from_state, AlertEvent.to_state, AlertEvent.period, AlertEvent.value)
    .where(AlertEvent.at >= bindparam("start"), AlertEvent.at < bindparam("cutoff"),
           AlertEvent.kind.in_(bindparam("kinds", expanding=True)))  # type: ignore[attr-defined]
    .order_by(AlertEvent.id)
)
_RETURNS = (select(ReturnRecord.provider, ReturnRecord.kind, ReturnRecord.periods, ReturnRecord.received_at,
                   ReturnRecord.status)
            .where(ReturnRecord.received_at >= bindparam("start"), ReturnRecord.received_at < bindparam("cutoff"))
            .order_by(ReturnRecord.id))
_RETURNS_BEFORE = (select(ReturnRecord.id, ReturnRecord.provider, ReturnRecord.kind, ReturnRecord.periods,
                          ReturnRecord.evaluated_at)
                   .where(ReturnRecord.received_at < bindparam("cutoff")).order_by(ReturnRecord.id))
_REPORTED = select(Observation.measure).where(
    Observation.return_id == bindparam("return_id"), Observation.period == bindparam("period"),
    Observation.value.is_not(None))  # type: ignore[union-attr]
_FINANCE = select(Observation.period, Observation.measure, Observation.value).where(
    Observation.provider == bindparam("provider"), Observation.kind == "finance",
    Observation.period.in_(bindparam("periods", expanding=True)), Observation.current)  # type: ignore[attr-defined]


def _version_statement() -> Select:
    parts = [select(func.max(AlertEvent.at)).scalar_subquery(),
             select(func.max(ReturnRecord.received_at)).scalar_subquery()]
    for table in (RatingRecord, AlertEvent, ReturnRecord):
        parts += [select(func.max(table.id)).scalar_subquery(),
                  select(func.count()).select_from(table).scalar_subquery()]
    return select(*parts)


_VERSION = _version_statement()
# primary-key lookups only: the highest id of each table (the web app checks it on every request;
# data_version, which also catches a late commit of a lower id, less often)
_QUICK_VERSION = select(*[select(func.max(t.id)).scalar_subquery() for t in (RatingRecord, AlertEvent, ReturnRecord)])


def ratings_before(session: Session, cutoff: dt.datetime) -> list[DbRow]:
    """Every rated row evaluated before `cutoff`, oldest first: (rule_id, subject, provider,
    team, period, value, rating, thresholds dict, kind, return_id)."""
    return list(session.execute(_RATINGS, {"cutoff": cutoff}))


def acknowledgements_before(session: Session, cutoff: dt.datetime) -> list[tuple[str, str, dt.datetime, str | None,
                                                                                  str | None]]:
    """(rule_id, subject, at, by, note), oldest first."""
    return [tuple(r) for r in session.execute(_ACKS, {"cutoff": cutoff})]  # type: ignore[misc]


def events_between(session: Session, start: dt.datetime, cutoff: dt.datetime, kinds: Iterable[str]) -> list[dict]:
    """The alert events of `kinds` in [start, cutoff), oldest first, as column -> value."""
    return [dict(r._mapping)
            for r in session.execute(_EVENTS, {"start": start, "cutoff": cutoff, "kinds": sorted(kinds)})]


def returns_between(session: Session, start: dt.datetime, cutoff: dt.datetime
                    ) -> list[tuple[str, str, str, dt.datetime, str]]:
    """(provider, kind, periods, received_at, status) of the returns received in [start, cutoff)."""
    return [tuple(r) for r in session.execute(_RETURNS, {"start": start, "cutoff": cutoff})]  # type: ignore[misc]


def returns_before(session: Session, cutoff: dt.datetime) -> list[tuple[int, str, str, str, dt.datetime | None]]:
    """(id, provider, kind, periods, evaluated_at) of the returns received before `cutoff`, oldest first."""
    return [tuple(r) for r in session.execute(_RETURNS_BEFORE, {"cutoff": cutoff})]  # type: ignore[misc]


def reported_in(session: Session, return_id: int, period: str) -> set[str]:
    """The measures a return gave a value for in one of its periods (not its blank cells)."""
    return set(session.execute(_REPORTED, {"return_id": return_id, "period": period}).scalars())


def finance_values_by_period(session: Session, provider: str, periods: list[str]) -> dict[str, dict[str, float]]:
    """period -> the current finance observations (measure -> value) of one provider's periods."""
    out: dict[str, dict[str, float]] = {}
    if periods:
        for period, measure, value in session.execute(_FINANCE, {"provider": provider, "periods": periods}):
            out.setdefault(period, {})[measure] = value
    return out


def data_version(session: Session) -> tuple:
    """(highest id, rows) of ratings, alert events and returns (observations land with their
    return), and the latest event and return times: a database made anew at the same path
    differs in those."""
    return tuple(session.execute(_VERSION).one())


def quick_version(session: Session) -> tuple:
    """What `data_version` says, from index lookups alone (no counts): it misses only a row
    that commits after a higher id (a PostgreSQL sequence), which data_version catches."""
    return tuple(session.execute(_QUICK_VERSION).one())


# --- the ledger --------------------------------------------------------------------------

EMPTY, NOT_DUE = "empty", "not_due"  # why a ledger row is `skipped`: opted out of an empty one; monthly

_PLANNED = select(Digest.subscriber_id).where(Digest.week == bindparam("week"),
                                              Digest.subscriber_id.in_(bindparam("ids", expanding=True)))  # type: ignore[attr-defined]
_COUNTS = select(Digest.subscriber_id, Digest.counts).where(
    Digest.week == bindparam("week"), Digest.subscriber_id.in_(bindparam("ids", expanding=True)),  # type: ignore[attr-defined]
    or_(Digest.reason.is_(None), Digest.reason != NOT_DUE))  # type: ignore[union-attr]  # not due: nothing composed
_SUBSCRIBERS = select(Subscriber.id, Subscriber.name, Subscriber.empty_digest, Subscriber.digest_cadence).where(
    Subscriber.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]
_PENDING = (select(Delivery.id).join(Digest, Digest.delivery_id == Delivery.id)
            .where(Digest.week == bindparam("week"), Digest.subscriber_id.in_(bindparam("ids", expanding=True)),  # type: ignore[attr-defined]
                   Delivery.status == "pending"))
_DELIVERY_TABLE = Delivery.__table__  # type: ignore[attr-defined]
_INSERT_DELIVERIES = insert(_DELIVERY_TABLE).returning(_DELIVERY_TABLE.c.id, sort_by_parameter_order=True)
_INSERT_LEDGER = insert(Digest.__table__)  # type: ignore[attr-defined]


def planned(session: Session, week: str, subscriber_ids: list[int]) -> set[int]:
    """Which of `subscriber_ids` already have a ledger row for `week`."""
    return set(session.execute(_PLANNED, {"week": week, "ids": subscriber_ids}).scalars())


def counts_of(session: Session, week: str, subscriber_ids: list[int]) -> dict[int, dict]:
    """subscriber id -> the green/amber/red counts their digest of `week` showed (or would
    have: an empty one skipped); none for a week a monthly subscriber was not due one."""
    return dict(session.execute(_COUNTS, {"week": week, "ids": subscriber_ids}).all())  # type: ignore[arg-type]


def names_and_opt_outs(session: Session, subscriber_ids: list[int]) -> dict[int, tuple[str, bool, str]]:
    """subscriber id -> (name, wants an 'all steady' digest when nothing changed, digest cadence)."""
    return {sid: (name, empty, cadence)
            for sid, name, empty, cadence in session.execute(_SUBSCRIBERS, {"ids": subscriber_ids})}


def subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def pending_digests(session: Session, week: str, subscriber_ids: list[int]) -> list[int]:
    """Delivery ids of `week`'s digests for `subscriber_ids` that are still waiting to be sent."""
    return sorted(session.execute(_PENDING, {"week": week, "ids": subscriber_ids}).scalars())


class AlreadyPlanned(Exception):
    """Another run planned one of these subscribers' digests first (nothing was written)."""


def record_plan(session: Session, deliveries: list[dict], ledger: list[dict]) -> list[int]:
    """Insert the outbox rows and the ledger rows (each ledger row pointing at its subscriber's
    delivery, if any) and commit: one transaction, so a digest is planned whole or not at all.
    Raises AlreadyPlanned, rolled back, when another run planned one of these subscribers first."""
    try:
        ids = list(session.execute(_INSERT_DELIVERIES, deliveries).scalars()) if deliveries else []
        by_sub = dict(zip((d["subscriber_id"] for d in deliveries), ids, strict=True))
        session.execute(_INSERT_LEDGER, [dict(row, delivery_id=by_sub.get(row["subscriber_id"])) for row in ledger])
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AlreadyPlanned from None
    return ids
