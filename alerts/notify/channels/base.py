"""One channel per file behind one base class (the Apprise way): email, Teams, digest email.

A channel owns its kind of address: it parses and validates one (subscribing accepts exactly
what the channel can send to), shows it privately, and turns a rendered message for one
subscriber into exactly one send with one target, so each result is known. Alerts go through
Apprise (email.py, teams.py; Apprise's own retry stays 0: the delivery log is the one record of
attempts); a digest goes only through digest_email.py, over an SMTP session of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum

from config import Settings


class SendStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # retried with backoff
    UNKNOWN = "unknown"  # e.g. a timeout: it may have gone; never re-sent automatically
    CONFIG_ERROR = "config_error"  # no usable URL or address: not retried
    WITHDRAWN = "withdrawn"  # not sent: the subscriber unsubscribed after it was planned


@dataclass(frozen=True)
class OutgoingMessage:
    key: str  # the delivery key: X-Notification-Id (and, for a digest, the Message-ID)
    subject: str
    html: str  # email body (autoescaped Jinja2)
    text: str  # short markdown/plain body (Teams card; a digest's own text part)
    severity: str  # worst rating in the message: green | amber | red
    headers: dict[str, str] = field(default_factory=dict)  # extra email headers (List-Unsubscribe, ...)


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None
    teams_url: str | None


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    detail: str  # privacy-safe description (Apprise privacy URLs only; never a secret)
    elapsed: float


class AddressError(ValueError):
    """An address the channel cannot send to; the message never echoes a secret."""


class Channel(ABC):
    name: str
    unsubscribe_link: bool = False  # emails carry the RFC 8058 headers and a signed link
    unavailable: str | None = None  # set when the channel cannot work at all: a chunk stops

    @abstractmethod
    def address_of(self, recipient: Recipient) -> str | None:
        """The recipient's address on this channel, if any."""

    def accepts(self, recipient: Recipient) -> bool:
        return bool(self.address_of(recipient))

    @abstractmethod
    def parse_address(self, address: str) -> str:
        """The address as it is kept, or AddressError: what the channel can send to, exactly."""

    @abstractmethod
    def display(self, address: str) -> str:
        """The address fit to show (secrets masked)."""

    @abstractmethod
    def send(self, recipient: Recipient, message: OutgoingMessage, settings: Settings) -> SendResult:
        """Exactly one message to one target. Never raises for delivery problems."""

    def close(self) -> None:  # noqa: B027 - optional: stateless channels hold nothing
        """Release what the channel holds (a session)."""
