"""One-click unsubscribe (RFC 8058): a signed, expiring token and the two headers.

The token names the subscriber and an expiry and is signed with HMAC-SHA256 under the
install's secret key; verification uses a constant-time compare. The endpoint that consumes
it (a POST that never redirects; a GET changes nothing) arrives with the HTTP issue.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

DEFAULT_LIFETIME = dt.timedelta(days=90)

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"kpi-alerts/unsubscribe/v1:" + payload.encode(), hashlib.sha256).digest())


def make_token(key: bytes, subscriber_id: int, now: dt.datetime, lifetime: dt.timedelta = DEFAULT_LIFETIME) -> str:
    if not key:
        raise ValueError("an unsubscribe token needs a secret key")
    payload = _b64(json.dumps({"s": subscriber_id, "e": int((now + lifetime).timestamp())},
                              separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, payload)}"


def verify_token(key: bytes, token: str, now: dt.datetime) -> UnsubscribeClaim:
    """The claim of a genuine, unexpired token; BadToken for anything else."""
    try:
        payload, signature = token.split(".")
    except ValueError:
        raise BadToken("malformed token") from None
    if not key or not hmac.compare_digest(signature, _sign(key, payload)):
        raise BadToken("token signature does not match")
    try:
        data = json.loads(_unb64(payload))
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
