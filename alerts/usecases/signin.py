"""Signing in to the web app by email link (issue 12): request a link, sign in with it, find
the session's user, sign out. Plain functions over the store; the web layer signs tokens, the
signin_mail step (alerts/steps.py, a worker in broker mode) makes the link and sends the email.

- A link is asked for with an address. Whatever the address, the answer is the same: the request
  is only recorded (`record_link_request`), its id handed on; the mail step claims it once
  (`claim_link`) and makes a link only for a user, or a subscriber's address (who signs in as a viewer). Requests are
  limited per address and per client over a sliding window, counted in the database, so every
  API process shares the count.
- The link carries a random nonce (only its SHA-256 is stored): single use, LINK_MINUTES.
- A session is a random id (SHA-256 stored) that the cookie carries, signed.
- Where to land after signing in (`next`) is a path of this site only (`safe_next`): a link in
  an email to a signed-out leader leads to sign-in, then to the page it named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

from itsdangerous import URLSafeTimedSerializer
from sqlmodel import Session

from alerts.store import web_users as store
from alerts.store.web_users import UserRow
from returns.names import name_problem

LINK_MINUTES = 15
LOCAL_LINK_MINUTES = 24 * 60  # `kpi-alerts demo --serve` only (KPI_ALERTS_MAIL_FOLDER set): a newcomer's own machine
RATE_WINDOW = dt.timedelta(minutes=15)
MAX_PER_ADDRESS = 5  # links asked for one address per window
MAX_PER_CLIENT = 20  # requests from one client (address) per window
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


def link_serializer(install_key: bytes) -> URLSafeTimedSerializer:
    """What signs a sign-in link's nonce (the `token` of /signin/link) with the install's key."""
    return URLSafeTimedSerializer(install_key, salt="kpi-alerts-signin-link")


def link_path(install_key: bytes, nonce: str, next_path: str = "/") -> str:
    """`/signin/link?token=...[&next=/indicators/...]`: the link's path, the base URL (from the
    settings, never a request) goes in front."""
    query = {"token": link_serializer(install_key).dumps(nonce)}
    if (landing := safe_next(next_path)) != "/":
        query["next"] = landing
    return f"/signin/link?{urlencode(query)}"


MAX_NEXT = 2000
_RAW_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # as sent: no controls, CR/LF, tabs, spaces or backslashes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(text: object) -> str:
    """Where to land after signing in: `text` when it is a path of this site ('/indicators/PI1?
    provider=sandwell'), else '/'. A browser reads '//evil.example' and '/\\evil.example' as
    another site and drops tabs and newlines ('/\t/evil.example'), and a server may decode
    twice, so any of these, in any depth of percent-encoding, sends the person home instead."""
    if not isinstance(text, str) or len(text) > MAX_NEXT or _RAW_UNSAFE.search(text):
        return "/"
    decoded = text
    for _ in range(4):  # '%2F%2Fevil.example', '%252F%252F...': every decoding must be a path too
        parts = urlsplit(decoded)
        if (not decoded.startswith("/") or decoded.startswith(("//", "/\\")) or _CONTROL.search(decoded)
                or parts.scheme or parts.netloc):
            return "/"
        if (plainer := unquote(decoded)) == decoded:
            return text
        decoded = plainer
    return "/"  # still decoding after four rounds: not a path anyone typed


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(text: str) -> str | None:
    """The address as stored (trimmed, lower-cased), or None for what is no address."""
    email = text.strip().lower()
    return email if _EMAIL.match(email) else None


@dataclass(frozen=True)
class LinkToSend:
    email: str
    name: str
    nonce: str
    expires_at: dt.datetime
    landing: str = "/"


def link_for_user(session: Session, text: str, now: dt.datetime, minutes: int = LINK_MINUTES) -> LinkToSend:
    """`kpi-alerts users link EMAIL`: a sign-in link for a user, from the command line (no
    email: a first admin on an install that cannot send mail yet). LookupError for no such user.
    Commits."""
    email = normalise_email(text)
    user = store.user_by_email(session, email) if email else None
    if user is None:
        raise LookupError(f"no user {text.strip()!r} (kpi-alerts users add EMAIL first)")
    nonce = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(minutes=minutes)
    store.record_request(session, user.email, "command line", digest(nonce), now, expires)
    session.commit()
    return LinkToSend(user.email, user.name, nonce, expires)


def record_link_request(session: Session, text: str, client: str, now: dt.datetime, landing: str = "/") -> int | None:
    """`POST /signin`: the request recorded (whoever the address is: nothing here looks it up),
    its id for the signin_mail step; None for what is no address or over a limit (the caller
    answers the same either way). Commits."""
    email = normalise_email(text)
    if email is None:
        return None
    by_address, by_client = store.recent_requests(session, email, client, now - RATE_WINDOW)
    if by_address >= MAX_PER_ADDRESS or by_client >= MAX_PER_CLIENT:
        session.rollback()
        return None
    request_id = store.record_request(session, email, client, None, now, now + dt.timedelta(minutes=LINK_MINUTES),
                                      safe_next(landing))
    session.commit()
    return request_id


def claim_link(session: Session, request_id: int, now: dt.datetime) -> LinkToSend | None:
    """The signin_mail step: claim the request (once: a re-delivered task gets None) and make the
    link, its nonce's SHA-256 stored; None too for an address that is neither a user nor a
    subscriber (nothing is sent to it), or a request expired. Commits."""
    claimed = store.claim_mailing(session, request_id, now)
    if claimed is None:
        session.rollback()
        return None
    email, landing = claimed
    user = store.user_by_email(session, email)
    name = user.name if user is not None else store.subscriber_name(session, email)
    if user is None and name is None:
        session.commit()  # claimed: a stranger is never looked up again
        return None
    nonce = secrets.token_urlsafe(32)
    store.set_nonce(session, request_id, digest(nonce))
    session.commit()
    return LinkToSend(email, name or "", nonce, now + dt.timedelta(minutes=LINK_MINUTES), landing or "/")


def request_link(session: Session, text: str, client: str, now: dt.datetime) -> LinkToSend | None:
    """Record and claim at once, in this process: the link, or None (no such user or subscriber,
    not an address, over a limit). For tests and the bench, which sign in without email. Commits."""
    request_id = record_link_request(session, text, client, now)
    return None if request_id is None else claim_link(session, request_id, now)


def unclaim_link(session: Session, request_id: int) -> None:
    """The email was refused (not sent): the request is pending again, for the sweep. Commits."""
    store.release_mailing(session, request_id)
    session.commit()


MAIL_GRACE = dt.timedelta(seconds=60)  # a request this old and not mailed: its hand-on was lost


def unmailed_requests(session: Session, now: dt.datetime) -> list[int]:
    """Requests whose mail step never ran (the broker down, the API restarted) and whose link
    would still work: what the sweep hands on again."""
    return store.pending_mailings(session, now, now - MAIL_GRACE)


def sign_in(session: Session, nonce: str, now: dt.datetime, hours: float) -> tuple[str, UserRow] | None:
    """Use the link: (the new session's id, its user), or None for a link used, expired or
    unknown. A subscriber signing in for the first time becomes a viewer. Commits."""
    email = store.consume_request(session, digest(nonce), now)
    if email is None:
        session.rollback()
        return None
    user = store.user_by_email(session, email)
    if user is None:
        name = store.subscriber_name(session, email) or ""
        user = UserRow(store.add_user(session, email, "viewer", name, now)[0], email, name, "viewer")
    token = secrets.token_urlsafe(32)
    store.create_session(session, digest(token), user.id, now, now + dt.timedelta(hours=hours))
    session.commit()
    return token, user


def session_user(session: Session, token: str, now: dt.datetime) -> UserRow | None:
    return store.session_user(session, digest(token), now)


def sign_out(session: Session, token: str, now: dt.datetime) -> None:
    store.end_session(session, digest(token), now)
    session.commit()


def add_user(session: Session, email_text: str, role: str, name: str, now: dt.datetime) -> tuple[int, bool]:
    """`kpi-alerts users add`: ValueError for a bad address or role. Commits."""
    email = normalise_email(email_text)
    if email is None:
        raise ValueError(f"not an email address: {email_text!r}")
    if role not in store.ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(store.ROLES)})")
    problem = name_problem(name, "a user's name")  # shown on pages and in emails' greetings
    if problem is not None:
        raise ValueError(problem)
    found = store.add_user(session, email, role, name, now)
    session.commit()
    return found
