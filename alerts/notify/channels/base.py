"""One channel per file behind one base class (the Apprise way): email, Teams, ...

A channel turns a rendered message for one subscriber into exactly one send with one target,
so each result is known: one Apprise call (email, Teams), or for a digest chunk one message on
the chunk's SMTP session (bulk_email.py). Apprise's own retry stays 0: the delivery log is
the one record of attempts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum

from config import Settings


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # retried with backoff
    UNKNOWN = "unknown"  # e.g. a timeout: it may have gone; never re-sent automatically
    CONFIG_ERROR = "config_error"  # no usable URL: not retried


@dataclass(frozen=True)
class OutgoingMessage:
    key: str  # the delivery key: X-Notification-Id
    subject: str
    html: str  # email body (autoescaped Jinja2)
    text: str  # short markdown/plain body (Teams card, and logs)
    severity: str  # worst rating in the message: green | amber | red
    headers: dict[str, str] = field(default_factory=dict)  # extra email headers (List-Unsubscribe, ...)


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None
    teams_url: str | None


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str  # privacy-safe description (Apprise privacy URLs only; never a secret)
    elapsed: float


class Channel(ABC):
    name: str

    @abstractmethod
    def accepts(self, recipient: Recipient) -> bool:
        """Whether the recipient has an address on this channel."""

    @abstractmethod
    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        """Exactly one message to one target. Never raises for delivery problems."""
