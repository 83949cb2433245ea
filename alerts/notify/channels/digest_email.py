"""The digest sender: the weekly digest goes only this way, first attempt and every retry.

A digest is sent by a chunk (many digests over one SMTP session) or, retried alone (the sweep,
`kpi-alerts deliveries retry ID`), over a short session of its own: the same code either way, so
every attempt is the same message, with the digest's own text part and a Message-ID derived
from the delivery key. Alerts go through Apprise (email.py); this is the one measured exception.

Apprise's email plugin opens a new SMTP connection for every notify(), builds a new TLS
context for it (22-35 ms each here: OpenSSL 3 re-reads the CA bundle, even for plain SMTP;
alert emails now reuse one, channels/tls.py)
and derives the plain-text part by parsing the HTML. That is right for an alert and too slow
for 10,000 digests on two cores (about 20 per second per core, measured). So a digest chunk:

- reads KPI_ALERTS_EMAIL_URL with Apprise (email.smtp_endpoint) (host, port, STARTTLS / SSL / plain mode,
  credentials, verify, From: the same URL and meaning as every other email);
- holds one SMTP session (the standard library's smtplib) open across the chunk, reconnecting
  after an error, and stops the chunk when the server cannot be reached (the rest stay
  pending for the sweep);
- builds each message with the standard library's email package: our own text part, our
  HTML part, our headers, and a Message-ID derived from the delivery key, so a duplicate
  (a retry after an unknown outcome) is recognisable as the same message;
- sends the parts as 8-bit UTF-8 (BODY=8BITMIME, RFC 6152) when the server offers it, which
  every current MTA does: the digest's lines (at most 998 octets: the templates break them)
  go as they are, instead of being quoted-printable encoded in pure Python into 76-character
  lines, about 2 ms and six times the lines for a 50 KB digest. A server without 8BITMIME
  gets 7-bit parts (quoted-printable or base64, as the email package chooses), and so does
  a part with a longer line.

Outcomes keep the notification semantics. MAIL FROM / RCPT TO refused, or any 4xx/5xx reply
to DATA: nothing was accepted, FAILED (retried). The connection breaking or timing out after
the message was handed over: it may have been accepted, UNKNOWN (never re-sent automatically).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import formataddr, formatdate
from functools import lru_cache

from alerts.notify.channels.apprise_send import config_error
from alerts.notify.channels.base import Channel, OutgoingMessage, Recipient, SendResult, SendStatus
from alerts.notify.channels.email import EmailAddresses, SmtpEndpoint, extra_headers, smtp_endpoint
from alerts.notify.channels.tls import tls_context
from alerts.notify.redact import scrub
from config import Settings

_BROKEN = (smtplib.SMTPServerDisconnected, OSError)  # OSError: timeouts, resets, TLS errors


class _ReusedHeaders(HeaderRegistry):
    """The email package's header registry, reusing what it makes: it builds a new class for
    every header it parses, and a chunk's emails repeat most headers (From, MIME-Version, each
    part's Content-Type). Header objects are immutable strings, so sharing one is safe; this
    halves the cost of building a digest email."""

    @lru_cache(maxsize=64)  # noqa: B019 - one module-level instance, kept for the process
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)

    @lru_cache(maxsize=1024)  # noqa: B019
    def __call__(self, name: str, value: str):  # noqa: ANN204 - a BaseHeader subclass instance
        return super().__call__(name, value)


class _PlainHeader(UnstructuredHeader):
    """RFC 8058's two headers, written as they are: plain ASCII, never RFC 2047 encoded (a mail
    client must read the URI in List-Unsubscribe). The standard policy encodes an unstructured
    value with a word longer than a 78-character line, and the token URL is one such word with
    nowhere to fold, so the header goes on one line, legal up to RFC 5322's 998 octets. A value
    that is not ASCII or would be longer gets the standard treatment."""

    def fold(self, *, policy: Policy) -> str:
        line = f"{self.name}: {self}"
        if line.isascii() and line.isprintable() and len(line) <= 998:
            return line + policy.linesep
        return super().fold(policy=policy)


_REGISTRY = _ReusedHeaders()
for _name in ("list-unsubscribe", "list-unsubscribe-post"):
    _REGISTRY.map_to_type(_name, _PlainHeader)
HEADERS = SMTP.clone(header_factory=_REGISTRY)  # header lines folded at 78 characters
_BODY_8BIT = HEADERS.clone(max_line_length=998)  # RFC 5322's hard limit: parts go 8-bit when no line is longer
_BODY_7BIT = _BODY_8BIT.clone(cte_type="7bit")  # quoted-printable or base64 where needed


def build_message(sender: tuple[str, str], recipient: Recipient, message: OutgoingMessage,
                  message_id: str, eight_bit: bool = False) -> EmailMessage:
    """multipart/alternative: text first, HTML last (clients show the last part they can).
    `eight_bit`: the server takes 8BITMIME. Header values with line breaks raise ValueError
    (header injection)."""
    msg = EmailMessage(policy=HEADERS)
    msg["From"] = formataddr(sender)
    msg["To"] = formataddr((recipient.name, recipient.email or ""))
    msg["Subject"] = " ".join(message.subject.split())
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    msg["X-Application"] = "kpi-alerts"
    msg["X-Notification-Id"] = message.key
    for name, value in extra_headers(message).items():
        msg[name] = value
    msg.make_alternative()
    for content, subtype in ((message.text or message.subject, "plain"), (message.html, "html")):
        part = EmailMessage(policy=_BODY_8BIT if eight_bit else _BODY_7BIT)
        part.set_content(content, subtype=subtype)
        msg.attach(part)
    return msg


class DigestEmail(EmailAddresses, Channel):
    """The digest channel: one SMTP session, opened on the first send and held until close();
    use as a context manager around a chunk (or one retried digest)."""

    name = "digest"
    unsubscribe_link = True

    def __init__(self, settings: Settings):
        self.settings = settings
        self.timeout = settings.send_timeout
        self._endpoint: SmtpEndpoint | None = None
        self.problem: str | None = None
        self._smtp: smtplib.SMTP | None = None
        self.unavailable: str | None = None  # why no session could be had: the chunk stops

    @property
    def endpoint(self) -> SmtpEndpoint | None:
        """KPI_ALERTS_EMAIL_URL read on the first send (deliver() makes one of these per call)."""
        if self._endpoint is None and self.problem is None:
            try:
                self._endpoint = smtp_endpoint(self.settings)
            except ValueError as exc:  # each digest records the config error
                self.problem = str(exc)
        return self._endpoint

    # -- the session ----------------------------------------------------------------------
    def _tls(self) -> ssl.SSLContext:
        return tls_context(bool(self.endpoint and self.endpoint.verify))  # once per process

    def _connect(self) -> smtplib.SMTP | None:
        if self._smtp is not None:
            return self._smtp
        e = self.endpoint
        assert e is not None
        try:
            if e.mode == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(e.host, e.port, timeout=self.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(e.host, e.port, timeout=self.timeout)
                if e.mode == "starttls":
                    smtp.starttls(context=self._tls())
            if e.user and e.password:
                smtp.login(e.user, e.password)
            smtp.ehlo_or_helo_if_needed()  # its extensions decide 8BITMIME
        except (OSError, smtplib.SMTPException) as exc:
            self.unavailable = scrub(f"smtp {e.host}:{e.port}: no session ({type(exc).__name__}: {exc})")
            return None
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> DigestEmail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one message ------------------------------------------------------------------------
    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        """One message. When no session can be had (connect, TLS or login failed) the result is
        FAILED, nothing was sent, and `unavailable` tells the caller to stop the chunk."""
        started = time.monotonic()
        if self.endpoint is None:
            return config_error(self.problem or "no usable email URL")
        if not recipient.email:
            return config_error(f"recipient {recipient.name!r} has no email address")
        e = self.endpoint
        if self.settings.mail_folder:  # the local demo: the message a server would get, into the folder
            from alerts.notify.channels.mail_folder import write_message

            try:
                data = build_message(e.sender, recipient, message, f"<{message.key}@{e.domain}>", True).as_bytes()
            except ValueError as exc:
                return config_error(f"message not buildable: {exc}")
            write_message(self.settings.mail_folder, message.key, data)
            return SendResult(SendStatus.SENT, "written to the mail folder", time.monotonic() - started)
        where = f"smtp {e.host}:{e.port}"
        data, built_for = b"", None
        for fresh in (self._smtp is None, True):  # a kept session the server dropped: once more, anew
            smtp = self._connect()
            if smtp is None:
                return SendResult(SendStatus.FAILED, self.unavailable or "no SMTP session", time.monotonic() - started)
            eight_bit = smtp.has_extn("8bitmime")
            if eight_bit is not built_for:
                try:
                    data = build_message(e.sender, recipient, message, f"<{message.key}@{e.domain}>",
                                         eight_bit).as_bytes()
                except ValueError as exc:
                    return config_error(f"message not buildable: {exc}")
                built_for = eight_bit
            try:
                code, reply = smtp.mail(e.sender[1], ["BODY=8BITMIME"] if eight_bit else [])
                if code != 250:
                    return self._refused(started, where, "MAIL FROM", code, reply)
                code, reply = smtp.rcpt(recipient.email)
                if code not in (250, 251):
                    return self._refused(started, where, "RCPT TO", code, reply)
                break
            except _BROKEN as exc:  # nothing handed over yet: safe to try again
                self.close()
                if fresh:
                    return SendResult(SendStatus.FAILED, f"{where}: {type(exc).__name__} before DATA",
                                      time.monotonic() - started)
        try:
            code, reply = smtp.data(data)
        except smtplib.SMTPResponseException as exc:  # 4xx/5xx to DATA or to the message
            return self._refused(started, where, "DATA", exc.smtp_code, exc.smtp_error)
        except _BROKEN as exc:
            self.close()
            return SendResult(SendStatus.UNKNOWN,
                              f"{where}: {type(exc).__name__} during DATA (it may have been accepted)",
                              time.monotonic() - started)
        if code != 250:
            return self._refused(started, where, "DATA", code, reply)
        return SendResult(SendStatus.SENT, f"{where}: 250", time.monotonic() - started)

    def _refused(self, started: float, where: str, stage: str, code: int, reply: bytes | str) -> SendResult:
        """The server said no: nothing accepted. Reset so the session can carry the next one."""
        try:
            self._smtp.rset() if self._smtp else None
        except _BROKEN:
            self.close()
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return SendResult(SendStatus.FAILED, scrub(f"{where}: {stage} refused: {code} {text}"),
                          time.monotonic() - started)
