"""Email through Apprise: KPI_ALERTS_EMAIL_URL (a mailto:// or mailtos:// URL without
recipients) plus the recipient, the From address and our headers, one target per call."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import apprise

from alerts.notify.channels.base import Channel, OutgoingMessage, Recipient, SendResult
from alerts.notify.channels.outcome import notify_once
from alerts.notify.redact import register
from config import Settings


def email_url(base: str, to: str, sender: str, headers: dict[str, str]) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("to", "retry")]
    if not any(k == "from" for k, _ in query):
        query.append(("from", sender))
    query += [("to", to), ("retry", "0")]  # Apprise must not retry: the delivery log is the one record
    query += [(f"+{name}", value) for name, value in headers.items()]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class EmailChannel(Channel):
    name = "email"

    def accepts(self, recipient: Recipient) -> bool:
        return bool(recipient.email)

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        if not settings.email_url:
            return notify_once(None, message.subject, message.html, apprise.NotifyFormat.HTML, settings,
                               time.monotonic(), "KPI_ALERTS_EMAIL_URL is not set")
        register(settings.email_url)
        # X-Notification-Id, not Message-ID: Apprise always adds its own Message-ID.
        headers = {"X-Notification-Id": message.key, **message.headers}
        url = email_url(settings.email_url, recipient.email or "", settings.email_from, headers)
        return notify_once(url, message.subject, message.html, apprise.NotifyFormat.HTML, settings)
