"""Stage 4, dedup: a change already sent to a subscriber on a channel is not sent again
(the notification log, keyed by event, subscriber and channel). Pure."""

from __future__ import annotations

from alerts.notify.group import Group


def dedup(groups: list[Group], logged: set[tuple[int, int, str]]) -> list[Group]:
    """`logged`: (event id, subscriber id, channel) already in the notification log."""
    out = []
    for g in groups:
        drop = {c.event_id for c in g.changes if (c.event_id, g.subscriber_id, g.channel) in logged}
        kept = g.without(drop) if drop else g
        if kept.changes:
            out.append(kept)
    return out
