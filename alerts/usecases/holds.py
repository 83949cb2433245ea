"""Held returns (a return landed with queries: alerts/usecases/ingest.py): confirming one,
releasing those whose hold hours passed, and telling the performance team of a held return
nobody saw land (the API, the inbox folder) once, by email.

- `confirm`: someone (the performance team) says the figures are right: the return is released
  and evaluated as any return just landed; what it says goes out as usual.
- `release_expired`: a return held KPI_ALERTS_QUERY_HOLD_HOURS unconfirmed is released all the
  same (a real deterioration must not wait for ever), and every message about it says it is
  "not confirmed by the sender" (alerts/notify/wording.py).
- `tell_held`: the notice, to every user with the performance or admin role, once per return
  (`returns.held_notified_at`, claimed before sending; released again if nobody could be sent it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlmodel import Session

from alerts.events import Landed
from alerts.notify.held import HeldNotice
from alerts.store import web_users
from alerts.store.landing import (
    StoredReturn,
    claim_notice,
    get_return,
    held_since,
    release,
    unclaim_notice,
    untold_holds,
)
from alerts.store.web_users import UserRow
from alerts.usecases.ingest import Dispatch, IngestResult, evaluated, query_lines
from rules.catalog import Catalog

log = logging.getLogger(__name__)

CONFIRMERS = ["performance", "admin"]  # the roles that may confirm, and are told of, a held return


class NotHeld(ValueError):
    """The return is not (or no longer) held: nothing to confirm. The message says why."""


def why_not_held(rec: StoredReturn) -> str:
    if rec.superseded_by is not None:
        return f"return {rec.id} is not held: a corrected file (return {rec.superseded_by}) replaced it"
    if rec.confirmed_at is not None and rec.held_at is not None:
        return f"return {rec.id} is not held: {rec.confirmed_by} confirmed it already"
    if rec.released_unconfirmed_at is not None:
        return f"return {rec.id} is not held: its hold ran out and it was released unconfirmed"
    return f"return {rec.id} is not held: it had no queries to confirm"


def confirm(session: Session, catalog: Catalog, return_id: int, by: str, note: str | None, now: dt.datetime,
            dispatch: Dispatch, wait_seconds: float = 60.0) -> IngestResult:
    """Release the held return as confirmed by `by` (with an optional note) and evaluate it.
    LookupError: no such return; NotHeld: it is not held (why, in the message)."""
    rec = get_return(session, return_id)
    if rec is None:
        raise LookupError(f"no return with id {return_id}")
    if not rec.held:
        raise NotHeld(why_not_held(rec))
    released = release(session, return_id, now, confirmed_by=by, note=note or None)
    if released is None:  # confirmed, released or superseded meanwhile
        found = get_return(session, return_id)
        raise NotHeld(why_not_held(found) if found else f"return {return_id} is not held")
    return _evaluate(session, catalog, released, dispatch, wait_seconds)


def release_expired(session: Session, catalog: Catalog, now: dt.datetime, hold_hours: float, dispatch: Dispatch,
                    wait_seconds: float = 0.0) -> list[IngestResult]:
    """Release, unconfirmed, every return held `hold_hours` or longer, and evaluate each."""
    out = []
    for return_id in held_since(session, now - dt.timedelta(hours=hold_hours)):
        released = release(session, return_id, now)
        if released is not None:  # another run (a second beat) may have released it first
            out.append(_evaluate(session, catalog, released, dispatch, wait_seconds))
    return out


def _evaluate(session: Session, catalog: Catalog, rec: StoredReturn, dispatch: Dispatch,
              wait_seconds: float) -> IngestResult:
    landed = Landed(rec.id, rec.status, rec.provider, rec.kind, rec.periods)
    session.rollback()  # end the read transaction before the evaluation writes
    return evaluated(session, catalog, rec.filename, landed, dispatch, wait_seconds, claimed=False,
                     queries=query_lines(rec.filename, rec))


# (user, notice) -> whether it was sent
Send = Callable[[UserRow, HeldNotice], bool]


def tell_held(session: Session, now: dt.datetime, hold_hours: float, base_url: str, send: Send) -> list[int]:
    """Email each held return nobody has been told of to the performance team, once: the ids told."""
    untold = untold_holds(session)
    if not untold:
        session.rollback()
        return []
    team = web_users.users_with_roles(session, CONFIRMERS)
    session.rollback()
    if not team:
        log.warning("%d held return(s) and no user with the performance or admin role to tell "
                    "(kpi-alerts users add EMAIL --role performance)", len(untold))
        return []
    told = []
    for rec in untold:
        if not claim_notice(session, rec.id, now):
            continue  # told by another run meanwhile, or no longer held
        notice = HeldNotice(rec.id, rec.provider, rec.kind, rec.periods, rec.filename,
                            tuple(query_lines(rec.filename, rec)), hold_hours, base_url,
                            "the API" if rec.token_id is not None else "the inbox folder")
        sent = sum(1 for user in team if send(user, notice))
        if sent:
            told.append(rec.id)
        else:  # nobody could be sent it: the next run tries again
            unclaim_notice(session, rec.id)
    return told
