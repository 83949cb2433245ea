"""What every page of the web app relies on: the session cookie, CSRF, who is signed in and
what their role lets them do.

- The session cookie `kpi_session` holds the session's random id, signed with the install's
  key (itsdangerous): HttpOnly, SameSite=Lax, Secure when KPI_ALERTS_BASE_URL is https. The
  database says whether the session is live (alerts/usecases/signin.py).
- CSRF, double submit: the cookie `kpi_csrf` holds a random value (SameSite=Strict, HttpOnly)
  and every form carries it in the hidden field `csrf`; a POST whose two do not match is
  refused (403). A GET never changes anything.
- Pages need a session (else a redirect to /signin), except sign-in, the sign-in link and
  unsubscribe. Roles rank viewer < performance < admin; a page or action above the visitor's
  role is refused with 403 (`needs`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache
from fastapi import HTTPException, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.secrets import signing_key
from alerts.store.web_users import UserRow
from alerts.usecases.signin import session_user

SESSION_COOKIE = "kpi_session"
CSRF_COOKIE = "kpi_csrf"
CSRF_FIELD = "csrf"


SESSION_CACHE_SECONDS = 10.0
RANKS = {"viewer": 0, "performance": 1, "admin": 2}
ROLE_CAN = {"viewer": "see everything and follow indicators",
            "performance": "also acknowledge and snooze alerts, upload returns and manage anyone's subscriptions",
            "admin": "also add users and set their roles"}


class SignInRequired(Exception):
    """A page asked for without a live session: answered with a redirect to /signin."""


class NotAllowed(Exception):
    """Signed in, but the role does not allow it: answered 403, naming the role needed."""

    def __init__(self, role: str, what: str, held: str) -> None:
        super().__init__(f"{what} needs the {role} role")
        self.role, self.what, self.held = role, what, held


def may(user: UserRow | None, role: str) -> bool:
    """Whether `user` holds `role` or a higher one."""
    return user is not None and RANKS.get(user.role, -1) >= RANKS[role]


@dataclass(frozen=True)
class Visitor:
    """Who is asking: the signed-in user (None before sign-in) and the CSRF value for forms."""

    user: UserRow | None
    csrf: str


def key(request: Request) -> bytes:
    state = state_of(request)
    if state.signing_key is None:
        with session_for(state.settings.database_url) as session:
            state.signing_key = signing_key(session, state.settings)
    return state.signing_key


def session_signer(install_key: bytes) -> Signer:
    """What signs the session cookie's value (the session id) with the install's key."""
    return Signer(install_key, salt="kpi-alerts-web-session")


def _signer(request: Request) -> Signer:
    return session_signer(key(request))


def secure_cookies(request: Request) -> bool:
    return state_of(request).settings.base_url.lower().startswith("https://") or request.url.scheme == "https"


def csrf_value(request: Request) -> str:
    """The visitor's CSRF value: the cookie's, or a new one (set on the response by `finish`)."""
    found = request.cookies.get(CSRF_COOKIE, "")
    if len(found) == 43:  # token_urlsafe(32)
        return found
    request.state.new_csrf = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
    return request.state.new_csrf


def session_token(request: Request) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return _signer(request).unsign(cookie).decode()
    except BadSignature:
        return None


class SessionCache:
    """Sessions looked up in the last SESSION_CACHE_SECONDS, so a page costs no database read
    for its visitor: a session ended or a role changed by another process takes effect here
    within that time; signing out here takes effect at once (`forget`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: TTLCache[str, UserRow | None] = TTLCache(maxsize=10_000, ttl=SESSION_CACHE_SECONDS)

    def get(self, token: str) -> tuple[bool, UserRow | None]:
        with self._lock:
            return (token in self._found), self._found.get(token)

    def put(self, token: str, user: UserRow | None) -> None:
        with self._lock:
            self._found[token] = user

    def forget(self, token: str) -> None:
        with self._lock:
            self._found.pop(token, None)

    def clear(self) -> None:
        """A role changed here: every session is looked up again."""
        with self._lock:
            self._found.clear()


async def visitor(request: Request) -> Visitor:
    token = session_token(request)
    user = None
    if token:
        cache = state_of(request).sessions
        known, user = cache.get(token)
        if not known:
            def lookup() -> UserRow | None:
                with session_for(state_of(request).settings.database_url) as session:
                    return session_user(session, token, utcnow())
            user = await run_in_threadpool(lookup)
            cache.put(token, user)
    return Visitor(user, csrf_value(request))


async def signed_in(request: Request) -> Visitor:
    """A page's dependency: the visitor, who must be signed in."""
    found = await visitor(request)
    if found.user is None:
        raise SignInRequired
    return found


def needs(role: str, what: str) -> Callable[[Request], Awaitable[Visitor]]:
    """A page's dependency: the visitor, signed in and holding `role` (NotAllowed otherwise)."""
    async def dependency(request: Request) -> Visitor:
        found = await signed_in(request)
        if not may(found.user, role):
            raise NotAllowed(role, what, found.user.role if found.user else "none")
        return found
    return dependency


def same_token(sent: object, cookie: str) -> bool:
    """The double-submit check: the form's (or header's) value equals the cookie's."""
    return isinstance(sent, str) and bool(cookie) and hmac.compare_digest(sent.encode(), cookie.encode())


async def check_csrf(request: Request) -> dict[str, str]:
    """Every form POST: the form's `csrf` must equal the cookie's (403 otherwise). The form, read."""
    form = await request.form()
    if not same_token(form.get(CSRF_FIELD), request.cookies.get(CSRF_COOKIE, "")):
        raise HTTPException(403, "the form's security token is missing or out of date: reload the page and try again")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def finish(request: Request, response: Response) -> Response:
    """Set the CSRF cookie where this request made one; pages are never cached."""
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", secure=secure_cookies(request),
                            path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def set_session(request: Request, response: Response, token: str, hours: float) -> None:
    response.set_cookie(SESSION_COOKIE, _signer(request).sign(token).decode(), max_age=int(hours * 3600),
                        httponly=True, samesite="lax", secure=secure_cookies(request), path="/")


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request))
