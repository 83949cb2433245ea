"""One-click unsubscribe (RFC 8058): a signed, expiring token and the two headers.

The token is itsdangerous' URL-safe signed serialisation (HMAC-SHA256 under the install's
secret key, constant-time verification) of the subscriber and an expiry; the expiry is ours,
so the clock is passed in. Tokens made before itsdangerous (kpi-alerts' own v1 format) are
refused: a subscriber clicks the link of a newer email. The endpoint that consumes it (a POST
that never redirects; a GET changes nothing) is alerts/api/unsubscribe.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from itsdangerous import BadData, BadSignature, URLSafeSerializer

DEFAULT_LIFETIME = dt.timedelta(days=90)
_SALT = "kpi-alerts/unsubscribe/v2"

# Rendered email bodies hold this URL where the subscriber's unsubscribe link goes; the deliver
# step puts the signed URL in its place at send time, so the token's lifetime starts when the
# email leaves. URL-shaped, so escaping and HTML-to-text keep it intact; `.invalid` never resolves.
LINK_MARK = "https://kpi-alerts.invalid/unsubscribe-link"


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class UnsubscribeClaim:
    subscriber_id: int
    expires: dt.datetime


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def make_token(key: bytes, subscriber_id: int, now: dt.datetime, lifetime: dt.timedelta = DEFAULT_LIFETIME) -> str:
    if not key:
        raise ValueError("an unsubscribe token needs a secret key")
    return _serializer(key).dumps({"s": subscriber_id, "e": int((now + lifetime).timestamp())})


def verify_token(key: bytes, token: str, now: dt.datetime) -> UnsubscribeClaim:
    """The claim of a genuine, unexpired token; BadToken for anything else."""
    if not key:
        raise BadToken("token signature does not match")
    serializer = _serializer(key)
    try:
        data = serializer.loads(token)
    except BadSignature:
        raise BadToken("token signature does not match") from None
    except BadData:
        raise BadToken("malformed token") from None
    # base64 leaves spare bits in the last character: only the one canonical spelling is genuine
    if serializer.dumps(data) != token:
        raise BadToken("token signature does not match")
    try:
        claim = UnsubscribeClaim(int(data["s"]), dt.datetime.fromtimestamp(int(data["e"]), dt.UTC))
    except (ValueError, KeyError, TypeError):
        raise BadToken("malformed token") from None
    if now >= claim.expires:
        raise BadToken("token has expired")
    return claim


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe?token={token}"


def unsubscribe_headers(base_url: str, token: str) -> dict[str, str]:
    """RFC 8058: one HTTPS URI and the one-click POST marker. No base URL, no headers."""
    if not base_url:
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url(base_url, token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def with_link(body: str, url: str) -> str:
    """`body` with the subscriber's unsubscribe URL in place of LINK_MARK (the token alphabet,
    URL-safe base64 and '.', needs no HTML escaping)."""
    return body.replace(LINK_MARK, url)
