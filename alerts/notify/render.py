"""Render: a group of changes -> one message for its channel, worded once (wording.py).

- email: subject, HTML body (changes.html, Jinja2 with autoescape on: names from returns are
  untrusted) and its own plain-text part (changes.txt: one block of `Label: value` lines per
  change), which the email channel sends as the text/plain alternative;
- teams: subject and the Adaptive Card as JSON (card.py) in `text`; no HTML.
"""

from __future__ import annotations

import json

from alerts.notify.card import card
from alerts.notify.changes import IMPROVING, Change
from alerts.notify.channels.base import OutgoingMessage
from alerts.notify.group import Group
from alerts.notify.unsubscribe import LINK_MARK
from alerts.notify.wording import (
    item,
    lead,
    not_reported,
    provider_name,
    reminder_line,
    return_periods,
    subject_line,
    worst,
)
from alerts.templating import RAG, RAG_TEXT, environment
from rules.vocabulary import status

__all__ = ["MAX_SHOWN", "not_reported", "provider_name", "reminder_line", "render", "subject_line", "worst"]

# An email lists the worst this many changes and says how many more: a caseload return can move
# 20,000 workers' alerts, and a 6 MB email helps nobody (the subject still counts them all).
MAX_SHOWN = 50


def _context(group: Group, recipient: str, base_url: str) -> dict:
    # An email's unsubscribe link is a placeholder until it leaves: the deliver step signs a
    # token then and puts its URL in place of LINK_MARK (email only; a Teams card has none).
    link = LINK_MARK if base_url and group.channel == "email" else ""
    changes: tuple[Change, ...] = group.changes
    several = len({c.provider for c in changes}) > 1
    return {"changes": changes, "items": [item(c, base_url, show_provider=several) for c in changes[:MAX_SHOWN]],
            "max_shown": MAX_SHOWN, "recipient": recipient, "rag": RAG, "rag_text": RAG_TEXT,
            "base_url": base_url.rstrip("/"),
            "improving": IMPROVING, "provider_name": provider_name, "status": status, "unsubscribe_url": link,
            "reminders": all(c.kind == "reminder" for c in changes), "lead": lead(changes), "worst": worst(changes),
            "not_reported": not_reported(changes),
            "return_periods": return_periods(changes)}


def render(group: Group, recipient: str, base_url: str = "", headers: dict[str, str] | None = None
           ) -> OutgoingMessage:
    subject = subject_line(group.changes)
    if group.channel == "teams":
        return OutgoingMessage(key=group.key, subject=subject, html="", severity=worst(group.changes),
                               text=json.dumps(card(group.changes, base_url), ensure_ascii=False),
                               headers=headers or {})
    env = environment()
    ctx = _context(group, recipient, base_url)
    return OutgoingMessage(
        key=group.key,
        subject=subject,
        html=env.get_template("changes.html").render(ctx),
        text=env.get_template("changes.txt").render(ctx),
        severity=worst(group.changes),
        headers=headers or {},
    )
