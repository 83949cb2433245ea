"""What the notify stages read, loaded before they run (store/outbox.load_inputs). Plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alerts.notify.channels.base import Recipient

if TYPE_CHECKING:
    from alerts.notify.filter import Silence
    from alerts.notify.route import Route


@dataclass(frozen=True)
class Inputs:
    now: dt.datetime
    routes: list[Route] = field(default_factory=list)
    recipients: dict[int, Recipient] = field(default_factory=dict)
    channels: dict[int, list[str]] = field(default_factory=dict)  # subscriber id -> its alert channels
    silences: list[Silence] = field(default_factory=list)
    logged: frozenset[tuple[int, int, str]] = frozenset()  # (event id, subscriber id, channel) already sent
    reminder_week: str | None = None  # the ISO week of a reminders batch ('2025-W15')
    # (subscriber id, channel) already sent a reminder in `reminder_week`: a second run gets none
    reminded: frozenset[tuple[int, str]] = frozenset()
    delivery: str = "immediate"
