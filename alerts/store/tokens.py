"""API tokens: every statement `kpi-alerts tokens` and the API's bearer check run. Only the
SHA-256 of a token is stored or looked up; the caller commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.store.models import ApiToken

TOKENS = ApiToken.__table__  # type: ignore[attr-defined]

_INSERT = insert(TOKENS).returning(TOKENS.c.id)
_BY_HASH = select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.token_sha256, TOKENS.c.revoked_at, TOKENS.c.scope).where(
    TOKENS.c.token_sha256 == bindparam("digest"))
_LIST = select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.created_at, TOKENS.c.last_used_at,
               TOKENS.c.revoked_at, TOKENS.c.scope).order_by(TOKENS.c.id)
_REVOKE = (update(TOKENS).where(TOKENS.c.name == bindparam("b_name"), TOKENS.c.revoked_at.is_(None))
           .values(revoked_at=bindparam("at")))
# last use is recorded at most once a minute per token: uploads don't all write the same row
_TOUCH = (update(TOKENS).where(TOKENS.c.id == bindparam("b_id"),
                               or_(TOKENS.c.last_used_at.is_(None), TOKENS.c.last_used_at < bindparam("stale")))
          .values(last_used_at=bindparam("at")))
_NAME_TAKEN = select(TOKENS.c.id).where(TOKENS.c.name == bindparam("name"))


class NameTaken(ValueError):
    pass


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    scope: str = "manage"


@dataclass(frozen=True)
class TokenMatch:
    id: int
    name: str
    token_sha256: str
    revoked: bool
    scope: str = "manage"


def add(session: Session, name: str, digest: str, now: dt.datetime, scope: str = "upload") -> int:
    """A new token row; NameTaken when a token (live or revoked) has this name."""
    conn = session.connection()
    if conn.execute(_NAME_TAKEN, {"name": name}).first() is not None:
        raise NameTaken(name)
    try:
        return conn.execute(_INSERT, {"name": name, "token_sha256": digest, "created_at": now,
                                      "last_used_at": None, "revoked_at": None, "scope": scope}).scalar_one()
    except IntegrityError:  # made concurrently under the same name
        session.rollback()
        raise NameTaken(name) from None


def by_digest(session: Session, digest: str) -> TokenMatch | None:
    row = session.connection().execute(_BY_HASH, {"digest": digest}).first()
    return None if row is None else TokenMatch(row.id, row.name, row.token_sha256, row.revoked_at is not None,
                                                  row.scope or "manage")


def touch(session: Session, token_id: int, now: dt.datetime) -> None:
    session.connection().execute(_TOUCH, {"b_id": token_id, "at": now, "stale": now - dt.timedelta(minutes=1)})


def listing(session: Session) -> list[TokenRow]:
    return [TokenRow(r.id, r.name, r.created_at, r.last_used_at, r.revoked_at, r.scope or "manage")
            for r in session.connection().execute(_LIST)]


def revoke(session: Session, name: str, now: dt.datetime) -> bool:
    """Whether a live token of that name was revoked now."""
    return bool(session.connection().execute(_REVOKE, {"b_name": name, "at": now}).rowcount)
