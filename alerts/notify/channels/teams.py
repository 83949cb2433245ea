"""Microsoft Teams through Apprise's workflows:// (Power Automate Workflows: the Office 365
connector is retired). Apprise posts an Adaptive Card with our title and short body.

A subscriber's URL is Apprise's short form or the webhook Teams gives, as it stands:

    workflows://prod-161.westeurope.logic.azure.com:443/WORKFLOW-ID/SIGNATURE/
    https://prod-161.westeurope.logic.azure.com:443/workflows/WORKFLOW-ID/triggers/manual/paths/invoke?...&sig=...
    workflows://127.0.0.1:PORT/WORKFLOW-ID/SIGNATURE/?verify=no      (the tests' HTTPS peer)

Apprise then posts to https://HOST:PORT/workflows/WORKFLOW-ID/triggers/manual/paths/invoke
?api-version=2016-06-01&sp=/triggers/manual/run&sv=1.0&sig=SIGNATURE. The workflow id and the
signature are secrets: they never appear in results or logs. Whether a URL is one we can send
to is Apprise's answer (its Workflows plugin parses it), for subscribing and sending alike.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from alerts.notify.channels.apprise_send import config_error, notify_once
from alerts.notify.channels.base import AddressError, Channel, OutgoingMessage, Recipient, SendResult
from alerts.notify.redact import register, safe_url
from config import Settings

_EXPECTED = ("expected a Teams Workflows webhook: the https://...logic.azure.com/workflows/... URL Teams gives, "
             "or Apprise's workflows:// form")


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


def parse_workflows_url(url: str) -> str:
    """The URL as given when Apprise's Workflows plugin takes it; AddressError otherwise."""
    import apprise
    from apprise.plugins.workflows import NotifyWorkflows

    value = url.strip()
    if value:
        register(value)
    try:
        plugin = apprise.Apprise.instantiate(workflows_url(value), suppress_exceptions=True) if value else None
    except Exception:  # noqa: BLE001 - Apprise raises on some malformed URLs
        plugin = None
    if not isinstance(plugin, NotifyWorkflows):
        raise AddressError(_EXPECTED)  # the URL is not echoed: it holds the signature
    return value


class TeamsChannel(Channel):
    name = "teams"

    def address_of(self, recipient: Recipient) -> str | None:
        return recipient.teams_url

    def parse_address(self, address: str) -> str:
        return parse_workflows_url(address)

    def display(self, address: str) -> str:
        return safe_url(address)

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        import apprise

        if not (recipient.teams_url or "").strip():
            return config_error(f"recipient {recipient.name!r} has no Teams URL")
        try:
            url = parse_workflows_url(recipient.teams_url or "")
        except AddressError as exc:
            return config_error(str(exc))
        return notify_once(workflows_url(url), message.subject, message.text, apprise.NotifyFormat.MARKDOWN,
                           settings)
