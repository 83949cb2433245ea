"""API tokens for `POST /api/returns` and the JSON API: made, listed, revoked, checked.

A token has a scope (issue 18): `upload` (the default: `POST /api/returns` only, what a
provider's script needs), `read` (the JSON API's GET calls) or `manage` (everything the
performance role may do through the API). Tokens made before scopes existed are `manage`.

A token is `secrets.token_urlsafe(32)` (256 random bits), shown once when it is made; only
its SHA-256 is stored. Checking a token is one lookup by its hash, so no comparison of
secret bytes runs in Python (the final compare_digest is belt and braces). Tokens are never
logged, here or by the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlmodel import Session

from alerts.store import tokens as store
from alerts.store.tokens import NameTaken, TokenRow

__all__ = ["SCOPES", "NameTaken", "TokenError", "TokenRow", "authenticate", "create", "listing", "revoke",
           "scope_allows"]

MAX_NAME = 100
SCOPES = ("upload", "read", "manage")
# what each scope may do: "upload" (POST /api/returns), "read" (GET /api/*), "change" (the rest)
_ALLOWS = {"upload": {"upload"}, "read": {"read"}, "manage": {"upload", "read", "change"}}


def scope_allows(scope: str, action: str) -> bool:
    """Whether a token of `scope` may do `action` (upload, read or change); unknown: nothing."""
    return action in _ALLOWS.get(scope, set())


def scope_needed(action: str) -> str:
    """The narrowest scope that allows `action`: named in a 403."""
    return next(s for s in SCOPES if scope_allows(s, action))


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise TokenError(f"a token name is 1-{MAX_NAME} characters")
    if not name.isprintable() or name != name.strip():
        raise TokenError("a token name cannot hold control characters or start or end with spaces")
    return name


def create(session: Session, name: str, now: dt.datetime, scope: str = "upload") -> str:
    """A new token called `name` (unique, revoked ones included): the token, shown once."""
    check_name(name)
    if scope not in SCOPES:
        raise TokenError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")
    token = secrets.token_urlsafe(32)
    try:
        store.add(session, name, digest(token), now, scope)
    except NameTaken:
        raise TokenError(f"a token called {name!r} exists already (names are kept after revoking; "
                         "choose another)") from None
    session.commit()
    return token


def authenticate(session: Session, token: str, now: dt.datetime) -> store.TokenMatch | None:
    """The live token this is, None otherwise (unknown, revoked, empty). Records its last use."""
    if not token or len(token) > 200:
        return None
    wanted = digest(token)
    match = store.by_digest(session, wanted)
    if match is None or match.revoked or not hmac.compare_digest(match.token_sha256, wanted):
        session.rollback()
        return None
    store.touch(session, match.id, now)
    session.commit()
    return match


def listing(session: Session) -> list[TokenRow]:
    return store.listing(session)


def revoke(session: Session, name: str, now: dt.datetime) -> bool:
    done = store.revoke(session, name, now)
    session.commit()
    return done
