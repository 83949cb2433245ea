"""A real SMTP server (aiosmtpd) on a free loopback port, scriptable per message:
answer 250, 451 or 550, stall, or be stopped and restarted on the same port.

    peer.script = ["451 try later", "550 no", "stall 5"]   # replies to the next DATA commands
    peer.stop(); ...; peer.start()                         # refusing connections, then back
    SMTPPeer(auth=("kpi", "secret"))                       # advertises AUTH (no TLS needed)
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.peers import free_port, poll


class _Handler:
    def __init__(self, peer: SMTPPeer):
        self.peer = peer

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # noqa: ANN001
        with self.peer.lock:
            self.peer.sessions += 1
        session.host_name = hostname
        if not self.peer.eight_bit:  # a server without RFC 6152
            responses = [r for r in responses if r[4:].upper() != "8BITMIME"]
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001 - aiosmtpd's signature
        if self.peer.on_data is not None:
            self.peer.on_data(envelope)
        with self.peer.lock:
            self.peer.attempts += 1
            reply = self.peer.script.pop(0) if self.peer.script else "250 OK"
        if reply.startswith("stall"):
            await asyncio.sleep(float(reply.split()[1]))  # the message is accepted after the stall
            reply = "250 OK"
        if reply.startswith("250") and not self.peer.keep:
            with self.peer.lock:
                self.peer.count += 1
        elif reply.startswith("250"):
            msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
            with self.peer.lock:
                self.peer.count += 1
                self.peer.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
                self.peer.mail_options.append(list(envelope.mail_options))
        return reply


class SMTPPeer:
    """`messages`: (envelope from, envelope recipients, parsed message) per accepted message, and
    `mail_options` the MAIL FROM parameters of each (BODY=8BITMIME); `attempts`: DATA commands
    seen (whatever the reply); `logins`: user names that authenticated; `sessions`: SMTP
    sessions opened (EHLO). `on_data(envelope)` runs as each message's data arrives."""

    def __init__(self, port: int | None = None, keep: bool = True, auth: tuple[str, str] | None = None,
                 eight_bit: bool = True):
        self.port = port or free_port()
        self.keep = keep  # False: only count messages (benchmarks)
        self.auth = auth  # (user, password): advertise AUTH PLAIN/LOGIN over plain SMTP, accept only these
        self.eight_bit = eight_bit  # False: 8BITMIME is not offered
        self.on_data: Callable[[object], None] | None = None
        self.mail_options: list[list[str]] = []
        self.count = 0
        self.attempts = 0
        self.sessions = 0  # EHLO greetings: one per SMTP session
        self.script: list[str] = []  # replies for the next messages: '451 ...', '550 ...', 'stall 5'
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def apprise_url(self) -> str:
        """The Apprise URL without recipients (KPI_ALERTS_EMAIL_URL), with the credentials if any."""
        if self.auth:
            return f"mailto://{self.auth[0]}:{self.auth[1]}@127.0.0.1:{self.port}"
        return f"mailto://127.0.0.1:{self.port}"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        ok = (isinstance(auth_data, LoginPassword) and self.auth is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.auth)
        if ok:
            with self.lock:
                self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def start(self) -> SMTPPeer:
        """Listen on `port` (the same one after a stop)."""
        # AUTH over plain SMTP, not required (Apprise logs in whenever the URL has a password; `logins` shows it).
        kwargs = {"authenticator": self._authenticate, "auth_require_tls": False} if self.auth else {}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10,
                                     server_hostname="kpi-alerts-test-peer", **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections to `port` are refused until start()."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self) -> SMTPPeer:
        self.stop()
        return self.start()

    def __enter__(self) -> SMTPPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def by_notification_id(self) -> Counter:
        """Accepted messages per X-Notification-Id."""
        with self.lock:
            return Counter(m["X-Notification-Id"] for _, _, m in self.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, list[str], EmailMessage]]:
        """Poll with a deadline until `count` messages have arrived."""
        def arrived() -> list | None:
            with self.lock:
                return list(self.messages) if len(self.messages) >= count else None
        return poll(arrived, timeout, f"{count} messages ({len(self.messages)} so far)")


@pytest.fixture
def smtp_server():
    """An SMTPPeer on a free 127.0.0.1 port, accepting everything unless scripted."""
    with SMTPPeer() as peer:
        yield peer
