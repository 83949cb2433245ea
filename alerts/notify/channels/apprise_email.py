"""Apprise's email plugin, sending OUR plain-text part: `kpimailto://` and `kpimailtos://`.

Why this file exists. An alert email is multipart/alternative: our HTML and a plain-text part
that reads on its own (changes.txt: one block of `Label: value` lines per change). Apprise 2.3's
NotifyEmail takes one body: given HTML it builds the text/plain part itself, by converting the
HTML (`prepare_emails` calls `convert_between(HTML, TEXT, body)`), and `Apprise.notify()` passes
no other content to a plugin. `send()` names `NotifyEmail.prepare_emails` on the class, so a
subclass cannot change the conversion either. So this subclass keeps everything else of Apprise's:

- the URL and its meaning (`mailto://` / `mailtos://` parameters, From, headers, secure modes,
  `verify`, timeouts), parsed by NotifyEmail itself under two schemas of our own;
- the message Apprise prepares (headers, Subject, From, To, Date, its one Message-ID, the HTML);
- the SMTP session (`AppriseSMTPController`: connect, STARTTLS or SSL, login) and the outcome;

and only puts our text in place of the converted text/plain part, parsing the prepared message
and serialising it again (`with_text_part`). `send()` below is NotifyEmail.send's loop with that
one step added; `tests/notify/test_channels.py` sends through a real SMTP peer and compares the
parts that arrive. Without a text part (`text_part` None) it is NotifyEmail, unchanged.

The SMTP session is AppriseSMTPController's, with one change (`ReusedTLSController`): the TLS
context is built once per process, not once per message. Apprise builds it in `__enter__` for
every send, even for plain SMTP, and building one re-reads the system CA bundle: measured 23 ms
of a 26 ms send to a loopback sink (2 Dec 2026; the SMTP dialogue itself took 2.3 ms), the
same cost digest_email.py avoids per chunk.

The weekly digest does not use this: it has its own sender (digest_email.py, one SMTP session
per chunk), for the measured reason given there.
"""

from __future__ import annotations

import contextlib
import email
import smtplib
from email.mime.text import MIMEText

from apprise.common import NotifyFormat, NotifyType
from apprise.exception import AppriseImproperlyConfigured
from apprise.manager_plugins import NotificationManager
from apprise.plugins.email import AppriseEmailException, NotifyEmail
from apprise.plugins.email.smtp import SMTP_EXCEPTIONS, SMTP_SECURE_MODES, AppriseSMTPController, SMTPSecureMode

from alerts.notify.channels.tls import tls_context

SCHEMAS = {"mailto": "kpimailto", "mailtos": "kpimailtos"}  # Apprise's -> ours


def with_text_part(prepared: str, text: str) -> str:
    """The message Apprise prepared (multipart/alternative: its converted text, our HTML) with
    `text` as its text/plain part; anything else is returned as it was."""
    message = email.message_from_string(prepared)
    if message.get_content_type() != "multipart/alternative":
        return prepared
    parts = message.get_payload()
    for i, part in enumerate(parts):
        if part.get_content_type() == "text/plain":
            parts[i] = MIMEText(text, "plain", "utf-8")
            return message.as_string()
    return prepared


class ReusedTLSController(AppriseSMTPController):
    """AppriseSMTPController's connect, STARTTLS or SSL, and login, with `tls_context`."""

    def __enter__(self) -> ReusedTLSController:
        if self.secure_mode not in SMTP_SECURE_MODES:
            raise AppriseImproperlyConfigured(f"Invalid SMTP secure mode: {self.secure_mode!r}")
        context = tls_context(self.verify_certificate)
        try:
            if self.secure_mode == SMTPSecureMode.SSL:
                self._socket = smtplib.SMTP_SSL(self.host, self.port, None, timeout=self.socket_connect_timeout,
                                                context=context)
            else:
                self._socket = smtplib.SMTP(self.host, self.port, None, timeout=self.socket_connect_timeout)
            if self.secure_mode == SMTPSecureMode.STARTTLS:
                self._socket.starttls(context=context)
            if self.user and self.password:
                self._socket.login(self.user, self.password)
        except SMTP_EXCEPTIONS:
            if self._socket is not None:
                with contextlib.suppress(*SMTP_EXCEPTIONS):
                    self._socket.quit()
                self._socket = None
            raise
        return self


class NotifyEmailWithText(NotifyEmail):
    """NotifyEmail whose text/plain alternative is `text_part`, set on the instance before notify()."""

    service_name = "E-Mail (kpi-alerts text part)"
    protocol = SCHEMAS["mailto"]
    secure_protocol = SCHEMAS["mailtos"]
    text_part: str | None = None
    mail_folder: str = ""  # KPI_ALERTS_MAIL_FOLDER: the prepared message is written there, not sent

    def _prepared(self, body: str, title: str, attach: object):  # noqa: ANN202 - Apprise's message objects
        """The messages Apprise would send, one per recipient, with our headers (one place for
        the SMTP send and the mail folder)."""
        headers = {"X-Application": self.app_id, **self.headers, **self._protocol_headers(body)}
        return NotifyEmail.prepare_emails(
            subject=title, body=body, notify_format=NotifyFormat.HTML, from_addr=self.from_addr,
            to=self.targets, cc=self.cc, bcc=self.bcc, reply_to=self.reply_to, smtp_host=self.smtp_host,
            attach=attach, headers=headers, names=self.names, pgp=self.pgp, pgp_mode=self.pgp_mode,
            inline=self.inline, tzinfo=self.tzinfo,
        )

    def _to_folder(self, body: str, title: str, attach: object) -> bool:
        from alerts.notify.channels.mail_folder import write_message

        key = next((v for k, v in self.headers.items() if k.lower() == "x-notification-id"), title)
        for message in self._prepared(body, title, attach):
            if self.is_delivered(message.recipient):
                continue
            data = message.body if self.text_part is None else with_text_part(message.body, self.text_part)
            write_message(self.mail_folder, f"{key}-{message.recipient}" if len(self.targets) > 1 else key, data)
            self.mark_delivered(message.recipient)
        return True

    def send(self, body, title="", notify_type=NotifyType.INFO, attach=None, body_format=None,  # noqa: ANN001, ANN201, C901
             **kwargs):
        if self.mail_folder:
            return self._to_folder(body, title, attach)
        if self.text_part is None:
            return super().send(body, title, notify_type, attach, body_format, **kwargs)
        if not self.targets:
            self.logger.warning("There are no Email recipients to notify")
            return False
        has_error = False
        self.throttle()
        try:
            with ReusedTLSController(
                host=self.smtp_host, port=self.port, secure_mode=self.secure_mode, user=self.user,
                password=self.password, verify_certificate=self.verify_certificate,
                socket_connect_timeout=self.socket_connect_timeout,
            ) as smtp:
                for message in self._prepared(body, title, attach):
                    if self.is_delivered(message.recipient):
                        continue
                    data = with_text_part(message.body, self.text_part)
                    if smtp.sendmail(self.from_addr[1], message.to_addrs, data):
                        self.logger.info("Sent Email to %s", message.recipient)
                        self.mark_delivered(message.recipient)
                    else:
                        self.logger.warning('Sending email to "%s" failed.', message.recipient)
                        has_error = True
        except (OSError, smtplib.SMTPException, RuntimeError, AppriseImproperlyConfigured) as e:
            self.logger.warning('Connection error while submitting email to "%s"', self.smtp_host)
            self.logger.debug(f"Socket Exception: {e}")
            has_error = True
        except AppriseEmailException as e:
            self.logger.debug(f"Socket Exception: {e}")
            has_error = True
        self.pgp.prune()
        return not has_error


def register() -> None:
    """Make `kpimailto://` and `kpimailtos://` known to Apprise (once per process)."""
    manager = NotificationManager()
    if SCHEMAS["mailto"] not in manager:
        manager.add(NotifyEmailWithText, schemas=tuple(SCHEMAS.values()))


def own_text_url(url: str) -> str:
    """A mailto:// or mailtos:// URL in this plugin's schema (the rest as written)."""
    scheme, sep, rest = url.partition("://")
    return f"{SCHEMAS.get(scheme.lower(), scheme)}{sep}{rest}"
