"""A real SMTP server (aiosmtpd) on a free loopback port, scriptable per message:
answer 250, 451 or 550, stall, or be stopped and restarted on the same port."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.peers import free_port, poll


class _Handler:
    def __init__(self, peer: SMTPPeer):
        self.peer = peer

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001 - aiosmtpd's signature
        with self.peer.lock:
            reply = self.peer.script.pop(0) if self.peer.script else "250 OK"
        if reply.startswith("stall"):
            await asyncio.sleep(float(reply.split()[1]))
            reply = "250 OK"
        if reply.startswith("250") and not self.peer.keep:
            with self.peer.lock:
                self.peer.count += 1
        elif reply.startswith("250"):
            msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
            with self.peer.lock:
                self.peer.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return reply


class SMTPPeer:
    def __init__(self, port: int | None = None, keep: bool = True):
        self.port = port or free_port()
        self.keep = keep  # False: only count messages (benchmarks)
        self.count = 0
        self.script: list[str] = []  # replies for the next messages: '451 ...', '550 ...', 'stall 5'
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def apprise_url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}"

    def start(self) -> SMTPPeer:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SMTPPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def by_notification_id(self) -> Counter:
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
    with SMTPPeer() as peer:
        yield peer
