"""Microsoft Teams through Apprise's workflows:// (Power Automate Workflows: the Office 365
connector is retired). Apprise posts OUR Adaptive Card (render.py, card.py: one fact a line, the
rating in words and colour, a button to the indicator) through the plugin's `template` option:

- Apprise's own card is a title and one markdown TextBlock (cut at 1,000 characters); a
  template is a JSON file that Apprise reads, fills and posts as the payload instead;
- Apprise fills `{{token}}`s in it (app_body, app_title, ... and `:name=value` URL arguments)
  with each value JSON-escaped inside the string it stands in (`json.dumps(value)[1:-1]`), so a
  token can only ever be text within a string: a whole card cannot be passed as one token;
- so each send writes the card, already JSON, to a private temporary file and names it in the
  URL (`template=PATH`), removed afterwards. Text from returns could hold `{{app_title}}`: every
  `{{` in the JSON (only ever inside a string: JSON's own syntax never has two in a row) is
  written `{\\u007b`, which reads back as `{{` but is no token to Apprise.

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

import contextlib
import json
import os
import re
import tempfile
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from alerts.notify.channels.apprise_send import config_error, notify_once
from alerts.notify.channels.base import AddressError, Channel, OutgoingMessage, Recipient, SendResult
from alerts.notify.redact import register, safe_url
from config import Settings

_EXPECTED = ("expected a Teams Workflows webhook: the https://...logic.azure.com/workflows/... URL Teams gives, "
             "or Apprise's workflows:// form")


def workflows_url(base: str, template: str | None = None) -> str:
    """The URL with `retry=0` (replacing any retry) and, unless the URL says otherwise,
    `image=no`: Apprise's default card links an image on an outside host. With `template` (a
    file path), Apprise posts that JSON file instead of its own card (any template in the URL is
    replaced). Other parameters (verify=no, api-version, ...) are kept as written."""
    parts = urlsplit(base.strip())
    kept = [pair for pair in re.split(r"[&;]", parts.query) if pair]
    keys = {unquote(pair.partition("=")[0]).lower() for pair in kept}
    replaced = {"retry", "template"} if template else {"retry"}
    query = [pair for pair in kept if unquote(pair.partition("=")[0]).lower() not in replaced]
    query.append("retry=0")  # Apprise must not retry: the delivery log is the one record
    if "image" not in keys:
        query.append("image=no")
    if template:
        query.append(f"template={quote(template, safe='')}")
    return urlunsplit(parts._replace(query="&".join(query), fragment=""))


def is_card(text: str) -> bool:
    """Is the message's text a Workflows message with an Adaptive Card (render.py's), rather than
    markdown for Apprise's own card?"""
    if not text.startswith("{"):
        return False
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("type") == "message" and bool(doc.get("attachments"))


def as_template(card_json: str) -> str:
    """The card as an Apprise Workflows template that holds no token: every `{{` (only ever
    inside a JSON string) is written `{\\u007b`, the same text once parsed."""
    return card_json.replace("{{", "{\\u007b")


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
        if not is_card(message.text):  # a markdown body (a delivery written before cards): Apprise's own card
            return notify_once(workflows_url(url), message.subject, message.text, apprise.NotifyFormat.MARKDOWN,
                               settings)
        fd, path = tempfile.mkstemp(prefix="kpi-alerts-card-", suffix=".json")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(as_template(message.text))
            # title and body are Apprise's required content; the template is what is posted
            return notify_once(workflows_url(url, path), message.subject, message.subject,
                               apprise.NotifyFormat.MARKDOWN, settings)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
