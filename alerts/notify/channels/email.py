"""Email through Apprise: KPI_ALERTS_EMAIL_URL (a mailto:// or mailtos:// URL without
recipients) plus the recipient, the From address and our headers, one target per call.

    mailtos://user:pass@smtp.example.org?from=kpi@example.org       (production)
    mailto://127.0.0.1:2525                                         (the tests' SMTP peer)

becomes, for one recipient,

    mailtos://user:pass@smtp.example.org?from=kpi@example.org&to=jo@example.org&retry=0
        &%2BX-Notification-Id=<key>&%2BList-Unsubscribe=...

and is sent as `kpimailtos://...` (`kpimailto://` for `mailto://`): Apprise's email plugin with
our own plain-text part in place of the one it would convert from the HTML (apprise_email.py
says why). Apprise builds the multipart/alternative message and adds its own Message-ID: ours
would make two, so the delivery key travels as X-Notification-Id. The digest sender
(digest_email.py) reads the same URL through `smtp_endpoint`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from alerts.notify.channels.apprise_send import config_error, notify_once, timeout_problem
from alerts.notify.channels.base import AddressError, Channel, OutgoingMessage, Recipient, SendResult
from alerts.notify.redact import register as register_secret
from config import Settings

SCHEMES = ("mailto", "mailtos")
# Query keys of the base URL that would add or change recipients, or make Apprise retry.
_REPLACED = {"to", "cc", "bcc", "retry"}
OWN_HEADERS = {"message-id", "x-notification-id"}  # set by the sender from the delivery key, never by a caller
_NOT_ONE_ADDRESS = re.compile(r"[\s,;<>]")  # Apprise splits `to` on these: one recipient only


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
    as the `+` must survive the first unquoting.) The one place that knows this."""
    parts = urlsplit(base.strip())
    kept = [pair for pair in re.split(r"[&;]", parts.query) if pair]  # Apprise splits on both
    keys = {unquote(pair.partition("=")[0]).lower() for pair in kept}
    query = [pair for pair in kept if unquote(pair.partition("=")[0]).lower() not in _REPLACED]
    if "from" not in keys:
        query.append(f"from={_q(sender, 2)}")
    query += [f"to={_q(to)}", "retry=0"]  # Apprise must not retry: the delivery log is the one record
    query += [f"{_q('+' + name)}={_q(value, 2)}" for name, value in headers.items()]
    return urlunsplit((parts.scheme, parts.netloc, "", "&".join(query), ""))


def extra_headers(message: OutgoingMessage) -> dict[str, str]:
    """The message's own headers a sender adds (not the ones made from the key); ValueError for
    a line break in one (header injection)."""
    headers = {k: v for k, v in message.headers.items() if k.lower() not in OWN_HEADERS}
    broken = [k for k, v in headers.items() if "\r" in k or "\n" in k or "\r" in v or "\n" in v]
    if broken:
        raise ValueError(f"line break in email header {broken[0]!r}")
    return headers


def parse_email_address(address: str) -> str:
    """One plain address (`jo@example.org`), as Apprise's email plugin takes it in `to=`."""
    from apprise.utils.parse import is_email

    value = address.strip()
    if not value or _NOT_ONE_ADDRESS.search(value) or not is_email(value):
        raise AddressError(f"expected one email address, got {address!r}")
    return value


@dataclass(frozen=True)
class SmtpEndpoint:
    """KPI_ALERTS_EMAIL_URL as Apprise reads it: the same URL and meaning for every email."""

    host: str
    port: int
    mode: str  # ssl | starttls | insecure
    user: str | None
    password: str | None
    verify: bool
    sender: tuple[str, str]  # (name, address)

    @property
    def domain(self) -> str:
        return self.sender[1].rpartition("@")[2] or "kpi-alerts"


def base_url_problem(settings: Settings) -> str | None:
    base = settings.email_url.strip()
    if not base:
        return "KPI_ALERTS_EMAIL_URL is not set"
    register_secret(base)
    if base.partition("://")[0].lower() not in SCHEMES:
        return "KPI_ALERTS_EMAIL_URL is not a mailto:// or mailtos:// URL"  # not echoed: secrets
    return None


def smtp_endpoint(settings: Settings) -> SmtpEndpoint:
    """ValueError when the URL is not set or not usable (never echoed: it may hold a password)."""
    import apprise

    problem = base_url_problem(settings)
    plugin = None if problem else apprise.Apprise.instantiate(
        email_url(settings.email_url, settings.email_from, settings.email_from, {}))
    if plugin is None:
        raise ValueError(problem or "KPI_ALERTS_EMAIL_URL is not a usable mailto:// or mailtos:// URL")
    name, address = (list(plugin.from_addr) + ["", ""])[:2]
    return SmtpEndpoint(plugin.smtp_host, int(plugin.port), str(plugin.secure_mode), plugin.user, plugin.password,
                        bool(plugin.verify_certificate), (name or "", address))


class EmailAddresses:
    """What both email senders (alerts through Apprise, digests over their own session) say
    about addresses: a subscriber's one plain address, shown as it is."""

    def address_of(self, recipient: Recipient) -> str | None:
        return recipient.email

    def parse_address(self, address: str) -> str:
        return parse_email_address(address)

    def display(self, address: str) -> str:
        return address


class EmailChannel(EmailAddresses, Channel):
    """An alert email: one Apprise call."""

    name = "email"
    unsubscribe_link = True

    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        import apprise

        from alerts.notify.channels.apprise_email import NotifyEmailWithText, own_text_url, register

        problem = timeout_problem(settings) or base_url_problem(settings)
        if problem:
            return config_error(problem)
        try:
            to = parse_email_address(recipient.email or "")
        except AddressError:
            return config_error(f"recipient {recipient.name!r} has no single email address")
        try:
            headers = {"X-Notification-Id": message.key} | extra_headers(message)
        except ValueError as exc:
            return config_error(str(exc))
        register()
        url = own_text_url(email_url(settings.email_url, to, settings.email_from, headers))
        text = message.text or message.subject

        def own_text(service: NotifyEmailWithText) -> None:
            service.text_part = text
            service.mail_folder = settings.mail_folder

        result = notify_once(url, message.subject, message.html, apprise.NotifyFormat.HTML, settings, own_text)
        # the delivery log names the subscriber (by id), never their address: personal data
        detail = result.detail
        for written in (to, quote(to, safe="")):
            detail = detail.replace(written, "RECIPIENT")
        return replace(result, detail=detail)
