"""One-click unsubscribe (RFC 8058): a signed token and the two headers.

The token is itsdangerous' URL-safe signed serialisation (HMAC-SHA256 under the install's
secret key, constant-time verification) of the subscriber's id and its `unsubscribe_version`.
It does not expire: a link works while its subscriber exists and its version is the
subscriber's (the endpoint checks that, alerts/usecases/subscriptions.link_holder);
`kpi-alerts subscriptions revoke-links NAME` bumps the version, which revokes every link sent
so far. Tokens of the earlier, expiring format (`{"s": id, "e": expiry}`, from emails already
sent) are genuine and signed under the same key and salt: they are taken as version 0, their
expiry ignored, so a revocation ends them too. Tokens made before itsdangerous (kpi-alerts'
own v1 format) are refused. The endpoint that consumes it (a POST that never redirects; a
GET changes nothing) is alerts/api/unsubscribe.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadData, BadSignature, URLSafeSerializer

_SALT = "kpi-alerts/unsubscribe/v2"

# Rendered email bodies hold this URL where the subscriber's unsubscribe link goes; the deliver
# step puts the signed URL in its place at send time, with the subscriber's version then.
# URL-shaped, so escaping and HTML-to-text keep it intact; `.invalid` never resolves.
LINK_MARK = "https://kpi-alerts.invalid/unsubscribe-link"


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class UnsubscribeClaim:
    subscriber_id: int
    version: int  # the subscriber's unsubscribe_version when the link was made (0: the expiring format)


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def make_token(key: bytes, subscriber_id: int, version: int) -> str:
    if not key:
        raise ValueError("an unsubscribe token needs a secret key")
    return _serializer(key).dumps({"s": subscriber_id, "v": version})


def verify_token(key: bytes, token: str) -> UnsubscribeClaim:
    """The claim of a genuine token; BadToken for anything else. Whether the link is still
    live (subscriber on record, version current) is the store's to say."""
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
        if "v" in data:
            return UnsubscribeClaim(int(data["s"]), int(data["v"]))
        int(data["e"])  # the expiring format: genuine, so it stands for version 0
        return UnsubscribeClaim(int(data["s"]), 0)
    except (ValueError, KeyError, TypeError):
        raise BadToken("malformed token") from None


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
