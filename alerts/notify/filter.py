"""Stage 3, filter: drop the changes a subscriber must not get (again). One filter, three
predicates: muted (an active snooze covers the change; ratings are never muted), already
sent (the notification log holds the event for this subscriber and channel) and reminded
this week (the subscriber already has a reminder on this channel in the batch's ISO week: a
second beat or a manual run sends nobody a second one). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from alerts.notify.changes import Change
from alerts.notify.group import Group
from alerts.notify.inputs import Inputs


@dataclass(frozen=True)
class Silence:
    rule_id: str
    subject: str | None  # None: every subject of the rule
    until: dt.datetime

    def covers(self, rule_id: str, subject: str, now: dt.datetime) -> bool:
        return self.rule_id == rule_id and self.subject in (None, subject) and now < self.until


Predicate = Callable[[Group, Change, Inputs], bool]


def muted(group: Group, change: Change, inputs: Inputs) -> bool:
    return any(s.covers(change.rule_id, change.subject, inputs.now) for s in inputs.silences)


def already_sent(group: Group, change: Change, inputs: Inputs) -> bool:
    return (change.event_id, group.subscriber_id, group.channel) in inputs.logged


def reminded_this_week(group: Group, change: Change, inputs: Inputs) -> bool:
    return change.kind == "reminder" and (group.subscriber_id, group.channel) in inputs.reminded


DROPPED: tuple[Predicate, ...] = (muted, already_sent, reminded_this_week)


def keep(groups: list[Group], inputs: Inputs, dropped: tuple[Predicate, ...] = DROPPED) -> list[Group]:
    """The groups without the changes any predicate drops; groups left empty go too."""
    out = []
    for g in groups:
        drop = {c.event_id for c in g.changes if any(p(g, c, inputs) for p in dropped)}
        kept = g.without(drop) if drop else g
        if kept.changes:
            out.append(kept)
    return out
