"""Users, sign-in requests and web sessions: every statement the web app's sign-in runs. Only
SHA-256 digests of sign-in nonces and session ids are stored; the caller commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from alerts.store.models import SigninRequest, Subscriber, User, WebSession

USERS = User.__table__  # type: ignore[attr-defined]
REQUESTS = SigninRequest.__table__  # type: ignore[attr-defined]
SESSIONS = WebSession.__table__  # type: ignore[attr-defined]
SUBSCRIBERS = Subscriber.__table__  # type: ignore[attr-defined]

_USER_BY_EMAIL = select(USERS.c.id, USERS.c.email, USERS.c.name, USERS.c.role).where(
    USERS.c.email == bindparam("email"))
_USERS = select(USERS.c.id, USERS.c.email, USERS.c.name, USERS.c.role).order_by(USERS.c.email)
_WITH_ROLES = _USERS.where(USERS.c.role.in_(bindparam("roles", expanding=True)))
_INSERT_USER = insert(USERS).returning(USERS.c.id)
_SET_ROLE = update(USERS).where(USERS.c.email == bindparam("b_email")).values(role=bindparam("role"))
_SUBSCRIBER = (select(SUBSCRIBERS.c.name).where(func.lower(SUBSCRIBERS.c.email) == bindparam("email"))
               .order_by(SUBSCRIBERS.c.id).limit(1))
_INSERT_REQUEST = insert(REQUESTS).returning(REQUESTS.c.id)
# the sign-in mail step's claim (issue 18): once per request, before anything is sent
_UNMAILED = ((REQUESTS.c.mailed_at.is_(None)) & (REQUESTS.c.nonce_sha256.is_(None)) & (REQUESTS.c.used_at.is_(None))
             & (REQUESTS.c.expires_at > bindparam("now")))
_CLAIM_MAILING = (update(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"), _UNMAILED)
                  .values(mailed_at=bindparam("now")).returning(REQUESTS.c.email, REQUESTS.c.landing))
_SET_NONCE = update(REQUESTS).where(REQUESTS.c.id == bindparam("b_id")).values(nonce_sha256=bindparam("digest"))
_RELEASE_MAILING = (update(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"), REQUESTS.c.used_at.is_(None))
                    .values(mailed_at=None, nonce_sha256=None))
_PENDING_MAILS = (select(REQUESTS.c.id).where(_UNMAILED, REQUESTS.c.created_at <= bindparam("before"))
                  .order_by(REQUESTS.c.id).limit(bindparam("limit")))
_RECENT_BY_EMAIL = select(func.count()).select_from(REQUESTS).where(
    REQUESTS.c.email == bindparam("email"), REQUESTS.c.created_at >= bindparam("since"))
_RECENT_BY_CLIENT = select(func.count()).select_from(REQUESTS).where(
    REQUESTS.c.client == bindparam("client"), REQUESTS.c.created_at >= bindparam("since"))
# single use: the UPDATE re-checks under the row lock, so of two clicks only one signs in
_CONSUME = (update(REQUESTS)
            .where(REQUESTS.c.nonce_sha256 == bindparam("digest"), REQUESTS.c.used_at.is_(None),
                   REQUESTS.c.expires_at > bindparam("now"))
            .values(used_at=bindparam("now")).returning(REQUESTS.c.email))
_INSERT_SESSION = insert(SESSIONS)
_SESSION_USER = (select(USERS.c.id, USERS.c.email, USERS.c.name, USERS.c.role)
                 .join_from(SESSIONS, USERS, SESSIONS.c.user_id == USERS.c.id)
                 .where(SESSIONS.c.token_sha256 == bindparam("digest"), SESSIONS.c.ended_at.is_(None),
                        SESSIONS.c.expires_at > bindparam("now")))
_END_SESSION = (update(SESSIONS).where(SESSIONS.c.token_sha256 == bindparam("digest"), SESSIONS.c.ended_at.is_(None))
                .values(ended_at=bindparam("now")))

ROLES = ("viewer", "performance", "admin")


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    name: str
    role: str


def user_by_email(session: Session, email: str) -> UserRow | None:
    row = session.connection().execute(_USER_BY_EMAIL, {"email": email}).first()
    return UserRow(*row) if row else None


def list_users(session: Session) -> list[UserRow]:
    return [UserRow(*r) for r in session.connection().execute(_USERS)]


def users_with_roles(session: Session, roles: list[str]) -> list[UserRow]:
    """Users holding one of `roles` (e.g. who confirms a held return), by address."""
    return [UserRow(*r) for r in session.connection().execute(_WITH_ROLES, {"roles": list(roles)})]


def add_user(session: Session, email: str, role: str, name: str, now: dt.datetime) -> tuple[int, bool]:
    """Add the user, or set the role of the one with that address: (id, whether it is new)."""
    found = user_by_email(session, email)
    if found is not None:
        session.connection().execute(_SET_ROLE, {"b_email": email, "role": role})
        return found.id, False
    new_id = session.connection().execute(_INSERT_USER, dict(email=email, name=name, role=role, created_at=now))
    return new_id.scalar_one(), True


def subscriber_name(session: Session, email: str) -> str | None:
    """The name of the subscriber with that (lower-cased) address, if any."""
    return session.connection().execute(_SUBSCRIBER, {"email": email}).scalar()


def record_request(session: Session, email: str, client: str, nonce_sha256: str | None, now: dt.datetime,
                   expires_at: dt.datetime, landing: str | None = None) -> int:
    return session.connection().execute(_INSERT_REQUEST, dict(
        email=email, client=client, nonce_sha256=nonce_sha256, created_at=now, expires_at=expires_at,
        landing=landing)).scalar_one()


def claim_mailing(session: Session, request_id: int, now: dt.datetime) -> tuple[str, str | None] | None:
    """Mark the request mailed: (its address, its landing), or None when it was claimed before,
    has a link already, was used or has expired."""
    row = session.connection().execute(_CLAIM_MAILING, {"b_id": request_id, "now": now}).first()
    return (row.email, row.landing) if row else None


def set_nonce(session: Session, request_id: int, nonce_sha256: str) -> None:
    session.connection().execute(_SET_NONCE, {"b_id": request_id, "digest": nonce_sha256})


def release_mailing(session: Session, request_id: int) -> None:
    """Not sent after all (the mail server refused it): pending again, its link void."""
    session.connection().execute(_RELEASE_MAILING, {"b_id": request_id})


def pending_mailings(session: Session, now: dt.datetime, before: dt.datetime, limit: int = 1000) -> list[int]:
    """Requests not yet mailed nor expired, made before `before`: what the sweep hands on."""
    return list(session.connection().execute(_PENDING_MAILS, {"now": now, "before": before, "limit": limit})
                .scalars())


def recent_requests(session: Session, email: str, client: str, since: dt.datetime) -> tuple[int, int]:
    """Sign-in requests since `since`: (for this address, from this client)."""
    conn = session.connection()
    return (conn.execute(_RECENT_BY_EMAIL, {"email": email, "since": since}).scalar_one(),
            conn.execute(_RECENT_BY_CLIENT, {"client": client, "since": since}).scalar_one())


def consume_request(session: Session, nonce_sha256: str, now: dt.datetime) -> str | None:
    """Mark the sign-in request used: its address, or None when it is unknown, used or expired."""
    return session.connection().execute(_CONSUME, {"digest": nonce_sha256, "now": now}).scalar()


def create_session(session: Session, token_sha256: str, user_id: int, now: dt.datetime,
                   expires_at: dt.datetime) -> None:
    session.connection().execute(_INSERT_SESSION, dict(token_sha256=token_sha256, user_id=user_id, created_at=now,
                                                       expires_at=expires_at))


def session_user(session: Session, token_sha256: str, now: dt.datetime) -> UserRow | None:
    row = session.connection().execute(_SESSION_USER, {"digest": token_sha256, "now": now}).first()
    return UserRow(*row) if row else None


def end_session(session: Session, token_sha256: str, now: dt.datetime) -> None:
    session.connection().execute(_END_SESSION, {"digest": token_sha256, "now": now})
