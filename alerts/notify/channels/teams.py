"""Microsoft Teams through Apprise's workflows:// (Power Automate Workflows: the Office 365
connector is retired). Apprise posts an Adaptive Card with our title and short body."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import apprise

from alerts.notify.channels.base import Channel, OutgoingMessage, Recipient, SendResult
from alerts.notify.channels.outcome import notify_once
from alerts.notify.redact import register
from config import Settings


def workflows_url(base: str) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "retry"] + [("retry", "0")]
    if not any(k == "image" for k, _ in query):
        query.append(("image", "no"))  # Apprise's default card links an image on an outside host
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class TeamsChannel(Channel):
    name = "teams"

    def accepts(self, recipient: Recipient) -> bool:
        return bool(recipient.teams_url)

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        register(recipient.teams_url or "")
        return notify_once(workflows_url(recipient.teams_url or ""), message.subject, message.text,
                           apprise.NotifyFormat.MARKDOWN, settings)
