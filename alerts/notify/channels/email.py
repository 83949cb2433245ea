"""Email through Apprise: KPI_ALERTS_EMAIL_URL (a mailto:// or mailtos:// URL without
recipients) plus the recipient, the From address and our headers, one target per call.

    mailtos://user:pass@smtp.example.org?from=kpi@example.org       (production)
    mailto://127.0.0.1:2525                                         (the tests' SMTP peer)

becomes, for one recipient,

    mailtos://user:pass@smtp.example.org?from=kpi@example.org&to=jo@example.org&retry=0
        &%2BX-Notification-Id=<key>&%2BList-Unsubscribe=...

Apprise builds the multipart/alternative message (plain part converted from our HTML) and
adds its own Message-ID: ours would make two, so the delivery key travels as X-Notification-Id.
"""

from __future__ import annotations

import math
import re
import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import apprise

from alerts.notify.channels.base import Channel, Outcome, OutgoingMessage, Recipient, SendResult
from alerts.notify.channels.outcome import notify_once
from alerts.notify.redact import register
from config import Settings

SCHEMES = ("mailto", "mailtos")
# Query keys of the base URL that would add or change recipients, or make Apprise retry.
_REPLACED = {"to", "cc", "bcc", "retry"}
_DROPPED_HEADERS = {"message-id", "x-notification-id"}  # Apprise adds a Message-ID; the key is ours
_NOT_ONE_ADDRESS = re.compile(r"[\s,;]")  # Apprise splits `to` on these: one recipient only


def _q(value: str, times: int = 1) -> str:
    for _ in range(times):
        value = quote(value, safe="")
    return value


def email_url(base: str, to: str, sender: str, headers: dict[str, str]) -> str:
    """The Apprise URL for one recipient. The base URL's recipients (path, to/cc/bcc) and retry
    are replaced; its other parameters are kept as written; `from` is added unless it is set.

    Apprise unquotes `+Header` values and `from` twice (once parsing the query, once more
    building the message): they are quoted twice here, so a header such as List-Unsubscribe
    with %-escapes in its URL arrives exactly as given. (Header names are tokens: quoted once,
    as the `+` must survive the first unquoting.)"""
    parts = urlsplit(base.strip())
    kept = [pair for pair in re.split(r"[&;]", parts.query) if pair]  # Apprise splits on both
    keys = {unquote(pair.partition("=")[0]).lower() for pair in kept}
    query = [pair for pair in kept if unquote(pair.partition("=")[0]).lower() not in _REPLACED]
    if "from" not in keys:
        query.append(f"from={_q(sender, 2)}")
    query += [f"to={_q(to)}", "retry=0"]  # Apprise must not retry: the delivery log is the one record
    query += [f"{_q('+' + name)}={_q(value, 2)}" for name, value in headers.items()]
    return urlunsplit((parts.scheme, parts.netloc, "", "&".join(query), ""))


def _config_error(problem: str) -> SendResult:
    return SendResult(Outcome.CONFIG_ERROR, problem, 0.0)


class EmailChannel(Channel):
    name = "email"

    def accepts(self, recipient: Recipient) -> bool:
        return bool(recipient.email)

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        if not (math.isfinite(settings.send_timeout) and settings.send_timeout >= 0):
            return _config_error(f"send_timeout must be a finite number >= 0, not {settings.send_timeout}")
        base = settings.email_url.strip()
        if not base:
            return _config_error("KPI_ALERTS_EMAIL_URL is not set")
        register(base)
        scheme = base.partition("://")[0].lower()
        if scheme not in SCHEMES:
            return _config_error("KPI_ALERTS_EMAIL_URL is not a mailto:// or mailtos:// URL")  # not echoed: secrets
        to = (recipient.email or "").strip()
        if not to or _NOT_ONE_ADDRESS.search(to):
            return _config_error(f"recipient {recipient.name!r} has no single email address")
        headers = {"X-Notification-Id": message.key}
        headers |= {k: v for k, v in message.headers.items() if k.lower() not in _DROPPED_HEADERS}
        broken = [k for k, v in headers.items() if "\r" in k or "\n" in k or "\r" in v or "\n" in v]
        if broken:
            return _config_error(f"line break in email header {broken[0]!r}")
        url = email_url(base, to, settings.email_from, headers)
        return notify_once(url, message.subject, message.html, apprise.NotifyFormat.HTML, settings,
                           time.monotonic())
