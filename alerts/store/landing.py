"""Landing a parsed return: one transaction stores the return and its observations.

A byte-identical file is a duplicate and changes nothing. A return for a provider, kind and
period already held is a restatement: the old observations stay, marked not current.
Statements are built once per process (bind parameters), not per call.

A return with queries (returns/queries.py) may be landed held: stored with its observations,
which do not become current, and not awaiting evaluation (neither the relay nor an evaluation
of a later return takes it) until it is released (`release`: confirmed, or its hold hours
passed); then it lands as any return does and is evaluated. A later return of the provider and
kind covering any of its periods (a corrected file) supersedes it (`superseded_by`): it is never
evaluated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.events import Landed, LandStatus
from alerts.store.models import Observation, ReturnRecord
from returns import ParsedReturn

RETURNS = ReturnRecord.__table__  # type: ignore[attr-defined]
OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]

_BY_SHA = select(RETURNS.c.id, RETURNS.c.provider, RETURNS.c.kind, RETURNS.c.periods).where(
    RETURNS.c.sha256 == bindparam("sha256"))
# held: landed with queries, neither confirmed nor released after its hold hours, nor superseded
_HELD = and_(RETURNS.c.held_at.is_not(None), RETURNS.c.confirmed_at.is_(None),
             RETURNS.c.released_unconfirmed_at.is_(None), RETURNS.c.superseded_by.is_(None))
# may be evaluated: never held, or released; and not superseded while held
_LIVE = and_(or_(RETURNS.c.held_at.is_(None), RETURNS.c.confirmed_at.is_not(None),
                 RETURNS.c.released_unconfirmed_at.is_not(None)), RETURNS.c.superseded_by.is_(None))
_SUPERSEDE = (update(OBSERVATIONS)
              .where(OBSERVATIONS.c.provider == bindparam("b_provider"), OBSERVATIONS.c.kind == bindparam("b_kind"),
                     OBSERVATIONS.c.period.in_(bindparam("b_periods", expanding=True)), OBSERVATIONS.c.current)
              .values(current=False))
_INSERT_RETURN = insert(RETURNS).returning(RETURNS.c.id)
_INSERT_OBSERVATIONS = insert(OBSERVATIONS)
_COLUMNS = (RETURNS.c.id, RETURNS.c.provider, RETURNS.c.kind, RETURNS.c.periods, RETURNS.c.evaluated_at,
            RETURNS.c.status, RETURNS.c.filename, RETURNS.c.received_at, RETURNS.c.published_at,
            RETURNS.c.queries, RETURNS.c.held_at, RETURNS.c.confirmed_at, RETURNS.c.confirmed_by,
            RETURNS.c.superseded_by, RETURNS.c.released_unconfirmed_at, RETURNS.c.token_id)
_GET = select(*_COLUMNS).where(RETURNS.c.id == bindparam("id"))
_RECENT = select(*_COLUMNS).order_by(RETURNS.c.id.desc()).limit(bindparam("limit"))
# awaiting evaluation, and held ones (awaiting confirmation); never one a corrected file superseded
_PENDING = (select(*_COLUMNS).where(RETURNS.c.evaluated_at.is_(None), RETURNS.c.superseded_by.is_(None))
            .order_by(RETURNS.c.id))
_HELD_OF = (select(RETURNS.c.id, RETURNS.c.periods)
            .where(RETURNS.c.provider == bindparam("provider"), RETURNS.c.kind == bindparam("kind"), _HELD))
_SUPERSEDE_HELD = (update(RETURNS).where(RETURNS.c.id.in_(bindparam("ids", expanding=True)), _HELD)
                   .values(superseded_by=bindparam("by")))
_ANY_CURRENT = select(OBSERVATIONS.c.id).where(
    OBSERVATIONS.c.provider == bindparam("provider"), OBSERVATIONS.c.kind == bindparam("kind"),
    OBSERVATIONS.c.period.in_(bindparam("periods", expanding=True)), OBSERVATIONS.c.current).limit(1)
_CONFIRM = (update(RETURNS).where(RETURNS.c.id == bindparam("b_id"), _HELD)
            .values(confirmed_at=bindparam("at"), confirmed_by=bindparam("by"), confirm_note=bindparam("note"))
            .returning(RETURNS.c.id))
_RELEASE_UNCONFIRMED = (update(RETURNS).where(RETURNS.c.id == bindparam("b_id"), _HELD)
                        .values(released_unconfirmed_at=bindparam("at")).returning(RETURNS.c.id))
_SUPERSEDE_OTHERS = (update(OBSERVATIONS)
                     .where(OBSERVATIONS.c.provider == bindparam("b_provider"),
                            OBSERVATIONS.c.kind == bindparam("b_kind"),
                            OBSERVATIONS.c.period.in_(bindparam("b_periods", expanding=True)), OBSERVATIONS.c.current,
                            OBSERVATIONS.c.return_id != bindparam("b_id"))
                     .values(current=False))
_MAKE_CURRENT = update(OBSERVATIONS).where(OBSERVATIONS.c.return_id == bindparam("b_id")).values(current=True)
_SET_STATUS = update(RETURNS).where(RETURNS.c.id == bindparam("b_id")).values(status=bindparam("b_status"))
_HELD_SINCE = select(RETURNS.c.id).where(_HELD, RETURNS.c.held_at <= bindparam("before")).order_by(RETURNS.c.id)
_UNTOLD = select(*_COLUMNS).where(_HELD, RETURNS.c.held_notified_at.is_(None)).order_by(RETURNS.c.id)
_CLAIM_NOTICE = (update(RETURNS).where(RETURNS.c.id == bindparam("b_id"), _HELD,
                                       RETURNS.c.held_notified_at.is_(None))
                 .values(held_notified_at=bindparam("at")).returning(RETURNS.c.id))
_UNCLAIM_NOTICE = update(RETURNS).where(RETURNS.c.id == bindparam("b_id")).values(held_notified_at=None)
# Returns of one provider and kind are evaluated in the order they were stored (returns.id), as a
# sequential run would: the claim takes the oldest unevaluated one up to the return asked for.
# PostgreSQL: a concurrent evaluation's claim of that oldest one is uncommitted, so the
# subquery still finds it and the UPDATE waits on its row lock, then finds it evaluated and
# claims nothing (the caller looks again); a newer one is never claimed before an older one.
_OLDEST_UNEVALUATED = (select(func.min(RETURNS.c.id))
                       .where(RETURNS.c.provider == bindparam("b_provider"), RETURNS.c.kind == bindparam("b_kind"),
                              RETURNS.c.evaluated_at.is_(None), RETURNS.c.id <= bindparam("b_id"), _LIVE)
                       .scalar_subquery())
_CLAIM_OLDEST = (update(RETURNS).where(RETURNS.c.id == _OLDEST_UNEVALUATED, RETURNS.c.evaluated_at.is_(None))
                 .values(evaluated_at=bindparam("at")).returning(RETURNS.c.id))
# landing's clock never runs backwards within a provider and kind (see `land`)
_LAST_RECEIVED = select(func.max(RETURNS.c.received_at)).where(
    RETURNS.c.provider == bindparam("provider"), RETURNS.c.kind == bindparam("kind"))
# Publication (broker mode), claimed the same way so two relays never publish one return twice:
# awaiting evaluation and never published, or published before the cutoff (no worker finished it).
_AWAITING = and_(RETURNS.c.evaluated_at.is_(None), _LIVE,
                 or_(RETURNS.c.published_at.is_(None), RETURNS.c.published_at < bindparam("cutoff")))
_CLAIM_PUBLICATION = (update(RETURNS)
                      .where(RETURNS.c.id.in_(select(RETURNS.c.id).where(_AWAITING).order_by(RETURNS.c.id)
                                              .limit(bindparam("limit")).scalar_subquery()), _AWAITING)
                      .values(published_at=bindparam("at")).returning(RETURNS.c.id))
# PostgreSQL: the candidates are picked and locked FOR UPDATE SKIP LOCKED first, then claimed by
# id, in one transaction: concurrent relays take disjoint sets. (As one UPDATE ... IN (SELECT
# ... LIMIT ... SKIP LOCKED) PostgreSQL may run the subquery more than once and claim more than
# the limit; without SKIP LOCKED two relays claimed the same return: tests/test_relay.py.)
_PICK_PUBLICATION = (select(RETURNS.c.id).where(_AWAITING).order_by(RETURNS.c.id).limit(bindparam("limit"))
                     .with_for_update(skip_locked=True))
_CLAIM_PICKED = (update(RETURNS).where(RETURNS.c.id.in_(bindparam("ids", expanding=True)))
                 .values(published_at=bindparam("at")).returning(RETURNS.c.id))
_CLAIM_PUBLICATION_OF = (update(RETURNS).where(RETURNS.c.id == bindparam("b_id"), _AWAITING)
                         .values(published_at=bindparam("at")).returning(RETURNS.c.id))
_UNPUBLISHED = (update(RETURNS).where(RETURNS.c.id.in_(bindparam("ids", expanding=True)),
                                      RETURNS.c.evaluated_at.is_(None))
                .values(published_at=None))
# per provider, kind and set of periods: when a return of them was last rated (few rows a provider)
_LAST_RATED = (select(RETURNS.c.provider, RETURNS.c.kind, RETURNS.c.periods, func.max(RETURNS.c.evaluated_at))
               .where(RETURNS.c.provider.in_(bindparam("providers", expanding=True)),
                      RETURNS.c.evaluated_at.is_not(None))
               .group_by(RETURNS.c.provider, RETURNS.c.kind, RETURNS.c.periods))


@dataclass(frozen=True)
class StoredReturn:
    id: int
    provider: str
    kind: str
    periods: tuple[str, ...]
    evaluated_at: dt.datetime | None
    status: LandStatus = "accepted"  # as it first landed: accepted or restated
    filename: str = ""
    received_at: dt.datetime | None = None
    # when its evaluation was last handed on (at landing, by the relay); None: never, or released
    published_at: dt.datetime | None = None
    queries: tuple[dict, ...] = ()  # as stored: {row, column, message[, last_row]} (returns/queries.py)
    held_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    confirmed_by: str | None = None
    superseded_by: int | None = None  # the corrected file that replaced it while it was held
    released_unconfirmed_at: dt.datetime | None = None  # its hold hours passed unconfirmed
    token_id: int | None = None  # the API token that uploaded it

    @property
    def held(self) -> bool:
        """Stored, awaiting its sender's confirmation: not evaluated, told to nobody."""
        return (self.held_at is not None and self.confirmed_at is None and self.released_unconfirmed_at is None
                and self.superseded_by is None)

    @property
    def unconfirmed(self) -> bool:
        """Released because its hold hours passed: what it says goes out marked so."""
        return self.released_unconfirmed_at is not None


@dataclass(frozen=True)
class LatestReturn:
    """The newest rated return of one kind for one provider, as reminders read it."""

    rated_at: dt.datetime  # when the latest return of the kind (any period, a restatement too) was rated
    newest_period: str  # the latest period any rated return of the kind has covered


def latest_returns(session: Session, providers: Iterable[str]) -> dict[tuple[str, str], LatestReturn]:
    """(provider, kind) -> its latest rated return. A return counts once it is rated
    (`evaluated_at`: the moment it lands, unless its evaluation had to wait)."""
    out: dict[tuple[str, str], LatestReturn] = {}
    rows = session.connection().execute(_LAST_RATED, {"providers": sorted(set(providers))}).all()
    for provider, kind, periods, rated_at in rows:
        newest = periods.split(",")[-1]
        seen = out.get((provider, kind))
        if seen is not None:
            rated_at, newest = max(rated_at, seen.rated_at), max(newest, seen.newest_period)
        out[(provider, kind)] = LatestReturn(rated_at, newest)
    return out


def _stored(row: Row) -> StoredReturn:
    return StoredReturn(row.id, row.provider, row.kind, tuple(row.periods.split(",")), row.evaluated_at,
                        row.status, row.filename, row.received_at, row.published_at, tuple(row.queries or ()),
                        row.held_at, row.confirmed_at, row.confirmed_by, row.superseded_by,
                        row.released_unconfirmed_at, row.token_id)


def _duplicate(session: Session, sha256: str) -> Landed | None:
    row = session.connection().execute(_BY_SHA, {"sha256": sha256}).first()
    if row is None:
        return None
    return Landed(row.id, "duplicate", row.provider, row.kind, tuple(row.periods.split(",")))


def _lock(session: Session, provider: str, kind: str) -> None:
    """Serialise landings (and releases) of one provider and kind: see `land`."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                     {"key": f"land/{provider}/{kind}"})


def land(session: Session, parsed: ParsedReturn, now: dt.datetime, token_id: int | None = None,
         handed_on: bool = False, *, queries: list[dict] | None = None, hold: bool = False,
         confirmed_by: str | None = None, told: bool = False) -> Landed:
    """`token_id`: the API token that uploaded it (None from the command line). `handed_on`: the
    caller evaluates it (or publishes its evaluation) right after this commit, so it is marked
    in flight (`published_at`): a duplicate arriving meanwhile waits for that evaluation rather
    than starting its own, and the relay leaves it alone until it goes stale.

    `queries`: what is doubtful in it, kept with it. `hold`: land it held (see the module
    docstring; `told`: the person landing it saw the queries, so nobody is emailed about it);
    otherwise `confirmed_by` accepted the queries up front. Either way any return it covers
    a period of that is still held is superseded by it.

    Landings of one provider and kind are serialised (SQLite: the write lock; PostgreSQL: an
    advisory lock), so store order (returns.id), which return is a restatement, and
    `received_at` (never earlier than the one stored before it) all agree."""
    found = _duplicate(session, parsed.sha256)
    if found is not None:
        return found
    conn = session.connection()
    try:
        _lock(session, parsed.provider, parsed.kind)
        at = {"b_provider": parsed.provider, "b_kind": parsed.kind, "b_periods": list(parsed.periods)}
        if hold:  # its observations do not become current: it restates nothing yet
            superseded = conn.execute(_ANY_CURRENT, {"provider": parsed.provider, "kind": parsed.kind,
                                                     "periods": list(parsed.periods)}).first() is not None
        else:
            superseded = conn.execute(_SUPERSEDE, at).rowcount
        status: LandStatus = "restated" if superseded else "accepted"
        last = conn.execute(_LAST_RECEIVED, {"provider": parsed.provider, "kind": parsed.kind}).scalar()
        received = max(now, last) if last is not None else now
        return_id = conn.execute(_INSERT_RETURN, dict(
            provider=parsed.provider, kind=parsed.kind, periods=",".join(parsed.periods), filename=parsed.filename,
            sha256=parsed.sha256, status=status, rows=len(parsed.observations), received_at=received,
            evaluated_at=None, token_id=token_id, published_at=now if handed_on and not hold else None,
            queries=queries or None, held_at=now if hold else None,
            held_notified_at=now if hold and told else None,
            confirmed_at=now if queries and not hold else None,
            confirmed_by=confirmed_by if queries and not hold else None)).scalar_one()
        rows = [dict(return_id=return_id, provider=parsed.provider, kind=parsed.kind, period=o.period,
                     measure=o.measure, value=o.value, team=o.team, service=o.service, worker=o.worker,
                     asye=o.asye, current=not hold) for o in parsed.observations]
        if rows:
            conn.execute(_INSERT_OBSERVATIONS, rows)  # executemany: one statement, no ORM objects
        replaced = _supersede_held(session, parsed.provider, parsed.kind, parsed.periods, return_id)
        session.commit()
    except IntegrityError:
        session.rollback()  # the same file landed concurrently: it is a duplicate
        found = _duplicate(session, parsed.sha256)
        if found is None:
            raise
        return found
    return Landed(return_id, "held" if hold else status, parsed.provider, parsed.kind, tuple(parsed.periods),
                  replaced)


def _supersede_held(session: Session, provider: str, kind: str, periods: Iterable[str], by: int) -> tuple[int, ...]:
    """Held returns of the provider and kind sharing a period with return `by`: superseded by it."""
    wanted = set(periods)
    conn = session.connection()
    ids = sorted(i for i, held in conn.execute(_HELD_OF, {"provider": provider, "kind": kind})
                 if i != by and wanted & set(held.split(",")))
    if ids:
        conn.execute(_SUPERSEDE_HELD, {"ids": ids, "by": by})
    return tuple(ids)


def release(session: Session, return_id: int, now: dt.datetime, confirmed_by: str | None = None,
            note: str | None = None) -> StoredReturn | None:
    """Release a held return, as confirmed by `confirmed_by` (None: its hold hours passed): in one
    transaction its observations become current (a restatement of what was current before, if
    anything was) and it awaits evaluation as a return just landed does. None when it is not
    held (unknown, released already, superseded). Commits."""
    rec = get_return(session, return_id)
    if rec is None or not rec.held:
        session.rollback()
        return None
    session.rollback()  # the lock below is the writing transaction's first statement
    _lock(session, rec.provider, rec.kind)
    conn = session.connection()
    if confirmed_by is not None:
        done = conn.execute(_CONFIRM, {"b_id": return_id, "at": now, "by": confirmed_by, "note": note}).scalar()
    else:
        done = conn.execute(_RELEASE_UNCONFIRMED, {"b_id": return_id, "at": now}).scalar()
    if done is None:  # released or superseded meanwhile
        session.rollback()
        return None
    superseded = conn.execute(_SUPERSEDE_OTHERS, {"b_provider": rec.provider, "b_kind": rec.kind,
                                                  "b_periods": list(rec.periods), "b_id": return_id}).rowcount
    conn.execute(_MAKE_CURRENT, {"b_id": return_id})
    conn.execute(_SET_STATUS, {"b_id": return_id, "b_status": "restated" if superseded else "accepted"})
    session.commit()
    return get_return(session, return_id)


def held_since(session: Session, before: dt.datetime) -> list[int]:
    """Held returns landed at or before `before` (their hold hours have passed), oldest first."""
    return list(session.connection().execute(_HELD_SINCE, {"before": before}).scalars())


def untold_holds(session: Session) -> list[StoredReturn]:
    """Held returns the performance team has not been told of yet (landed by the API or the inbox)."""
    return [_stored(row) for row in session.connection().execute(_UNTOLD)]


def claim_notice(session: Session, return_id: int, now: dt.datetime) -> bool:
    """Mark the held return's notice sent (the ledger: once per return), before it is sent;
    False when it is told already or no longer held. Commits."""
    claimed = session.connection().execute(_CLAIM_NOTICE, {"b_id": return_id, "at": now}).scalar() is not None
    session.commit()
    return claimed


def unclaim_notice(session: Session, return_id: int) -> None:
    """The notice could not be sent to anyone: the next run tries again. Commits."""
    session.connection().execute(_UNCLAIM_NOTICE, {"b_id": return_id})
    session.commit()


def get_return(session: Session, return_id: int) -> StoredReturn | None:
    row = session.connection().execute(_GET, {"id": return_id}).first()
    if row is None:
        return None
    return _stored(row)


def recent_returns(session: Session, limit: int = 100) -> list[StoredReturn]:
    """The latest returns landed, newest first (the web app's /returns, GET /api/returns)."""
    return [_stored(row) for row in session.connection().execute(_RECENT, {"limit": limit})]


def pending_returns(session: Session) -> list[StoredReturn]:
    """Returns stored but not (yet) evaluated, oldest first: the evaluation never finished
    (the process stopped, the step failed) or a worker has it now; or held, awaiting its
    sender's confirmation (`.held`)."""
    return [_stored(row) for row in session.connection().execute(_PENDING)]


def claim_oldest_evaluation(session: Session, rec: StoredReturn, now: dt.datetime) -> int | None:
    """Claim, as the first write of an evaluation's transaction, the oldest unevaluated return of
    `rec`'s provider and kind stored no later than it (`rec` itself, or one stored before it that
    must be rated first): its id, or None when a concurrent evaluation claimed it first (look
    again) or none is left. The caller commits or rolls back."""
    return session.connection().execute(_CLAIM_OLDEST, {"b_provider": rec.provider, "b_kind": rec.kind,
                                                        "b_id": rec.id, "at": now}).scalar()


def claim_publication(session: Session, now: dt.datetime, cutoff: dt.datetime, limit: int = 1000,
                      return_id: int | None = None) -> list[int]:
    """Returns to publish now, marked published at `now` and committed before anything is sent:
    those awaiting evaluation never published (the broker was down at landing) or published
    before `cutoff` and still not evaluated. Only `return_id` when given. Concurrent relays
    never claim the same return (SQLite: one writer; PostgreSQL: SKIP LOCKED candidates, and
    the UPDATE re-checks its condition under the row lock)."""
    params = {"at": now, "cutoff": cutoff}
    if return_id is None:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            picked = list(conn.execute(_PICK_PUBLICATION, {"cutoff": cutoff, "limit": limit}).scalars())
            rows = conn.execute(_CLAIM_PICKED, {"at": now, "ids": picked}) if picked else None
        else:
            rows = conn.execute(_CLAIM_PUBLICATION, {**params, "limit": limit})
    else:
        rows = session.connection().execute(_CLAIM_PUBLICATION_OF, {**params, "b_id": return_id})
    ids = sorted(rows.scalars()) if rows is not None else []
    session.commit()
    return ids


def release_publication(session: Session, return_ids: list[int]) -> None:
    """Claimed but not sent (the broker went away): the next relay publishes them. Commits."""
    if return_ids:
        session.connection().execute(_UNPUBLISHED, {"ids": list(return_ids)})
    session.commit()
