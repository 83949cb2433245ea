"""Microsoft Teams through Apprise's workflows:// (Power Automate Workflows: the Office 365
connector is retired). Apprise posts an Adaptive Card with our title and short body.

A subscriber's URL is Apprise's short form or the webhook Teams gives, as it stands:

    workflows://prod-161.westeurope.logic.azure.com:443/WORKFLOW-ID/SIGNATURE/
    https://prod-161.westeurope.logic.azure.com:443/workflows/WORKFLOW-ID/triggers/manual/paths/invoke?...&sig=...
    workflows://127.0.0.1:PORT/WORKFLOW-ID/SIGNATURE/?verify=no      (the tests' HTTPS peer)

Apprise then posts to https://HOST:PORT/workflows/WORKFLOW-ID/triggers/manual/paths/invoke
?api-version=2016-06-01&sp=/triggers/manual/run&sv=1.0&sig=SIGNATURE. The workflow id and the
signature are secrets: they never appear in results or logs.
"""

from __future__ import annotations

import math
import re
import time
from urllib.parse import unquote, urlsplit, urlunsplit

import apprise

from alerts.notify.channels.base import Channel, Outcome, OutgoingMessage, Recipient, SendResult
from alerts.notify.channels.outcome import notify_once
from alerts.notify.redact import register
from config import Settings


def workflows_url(base: str) -> str:
    """The URL with `retry=0` (replacing any retry) and, unless the URL says otherwise,
    `image=no`: Apprise's default card links an image on an outside host. Other parameters
    (verify=no, api-version, ...) are kept as written."""
    parts = urlsplit(base.strip())
    kept = [pair for pair in re.split(r"[&;]", parts.query) if pair]
    keys = {unquote(pair.partition("=")[0]).lower() for pair in kept}
    query = [pair for pair in kept if unquote(pair.partition("=")[0]).lower() != "retry"]
    query.append("retry=0")  # Apprise must not retry: the delivery log is the one record
    if "image" not in keys:
        query.append("image=no")
    return urlunsplit(parts._replace(query="&".join(query), fragment=""))


def _is_workflows(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    return scheme in ("workflow", "workflows") or (scheme == "https" and "/workflows/" in rest)


class TeamsChannel(Channel):
    name = "teams"

    def accepts(self, recipient: Recipient) -> bool:
        return bool(recipient.teams_url)

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        url = (recipient.teams_url or "").strip()
        if not url:
            return SendResult(Outcome.CONFIG_ERROR, f"recipient {recipient.name!r} has no Teams URL", 0.0)
        register(url)
        if not (math.isfinite(settings.send_timeout) and settings.send_timeout >= 0):
            return SendResult(Outcome.CONFIG_ERROR, f"send_timeout must be a finite number >= 0, not "
                              f"{settings.send_timeout}", 0.0)
        if not _is_workflows(url):
            return SendResult(Outcome.CONFIG_ERROR, "the Teams URL is not a workflows:// (or Workflows https) URL",
                              0.0)
        return notify_once(workflows_url(url), message.subject, message.text, apprise.NotifyFormat.MARKDOWN,
                           settings, time.monotonic())
