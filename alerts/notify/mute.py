"""Stage 3, mute: drop changes silenced by an active snooze. Ratings are never muted. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from alerts.notify.group import Group


@dataclass(frozen=True)
class Silence:
    rule_id: str
    subject: str | None  # None: every subject of the rule
    until: dt.datetime

    def covers(self, rule_id: str, subject: str, now: dt.datetime) -> bool:
        return self.rule_id == rule_id and self.subject in (None, subject) and now < self.until


def mute(groups: list[Group], silences: list[Silence], now: dt.datetime) -> list[Group]:
    out = []
    for g in groups:
        drop = {c.event_id for c in g.changes if any(s.covers(c.rule_id, c.subject, now) for s in silences)}
        kept = g.without(drop) if drop else g
        if kept.changes:
            out.append(kept)
    return out
