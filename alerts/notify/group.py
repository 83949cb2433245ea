"""Stage 2, group: one message per subscriber per channel per batch (a return, or a week's
reminders), listing every change in it, worst first. Pure."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from alerts.notify.changes import Change
from alerts.notify.inputs import Inputs


@dataclass(frozen=True)
class Group:
    subscriber_id: int
    channel: str
    batch: str  # 'return-12' or 'reminders-2025-W15'
    changes: tuple[Change, ...]

    @property
    def key(self) -> str:
        """The delivery key: stable for the same changes to the same target."""
        ids = ",".join(str(c.event_id) for c in sorted(self.changes, key=lambda c: c.event_id))
        digest = hashlib.sha256(ids.encode()).hexdigest()[:12]
        return f"{self.batch}.s{self.subscriber_id}.{self.channel}.{digest}"

    def without(self, drop: set[int]) -> Group:
        kept = tuple(c for c in self.changes if c.event_id not in drop)
        return Group(self.subscriber_id, self.channel, self.batch, kept)


def reminder_batch(week: str) -> str:
    """The batch of ISO week `week`'s reminders ('reminders-2025-W15'): every red alert due
    that week, in one message per subscriber and channel; delivery keys start with it."""
    return f"reminders-{week}"


def batch_of(change: Change, reminder_week: str | None = None) -> str:
    """'return-ID' for a return's changes; the week's reminder batch for a reminder; a change's
    own batch when it names one (a returns check: 'returns-check-2025-05-21')."""
    if change.batch:
        return change.batch
    if change.kind == "reminder" or change.return_id is None:
        return reminder_batch(reminder_week or change.period)
    return f"return-{change.return_id}"


def group(routed: list[tuple[int, Change]], channels: dict[int, list[str]], reminder_week: str | None = None
          ) -> list[Group]:
    """`channels`: subscriber id -> the channels it can receive on (email, teams)."""
    buckets: dict[tuple[int, str, str], list[Change]] = defaultdict(list)
    for subscriber_id, change in routed:
        for channel in channels.get(subscriber_id, []):
            buckets[(subscriber_id, channel, batch_of(change, reminder_week))].append(change)
    return [Group(s, ch, b, tuple(sorted(cs, key=lambda c: c.sort_key))) for (s, ch, b), cs in sorted(buckets.items())]


def group_stage(routed: list[tuple[int, Change]], inputs: Inputs) -> list[Group]:
    """The pipeline's stage 2: group over each subscriber's alert channels."""
    return group(routed, inputs.channels, inputs.reminder_week)
