"""Render: a group of changes -> subject, HTML email body and a short text body
(Teams card). Jinja2 with autoescape on for HTML: names from returns are untrusted."""

from __future__ import annotations

from collections import Counter

from alerts.notify.changes import IMPROVING, SEVERITY, Change
from alerts.notify.channels.base import OutgoingMessage
from alerts.notify.group import Group
from alerts.notify.unsubscribe import LINK_MARK
from alerts.templating import RAG, environment

# An email lists the worst this many changes and says how many more: a caseload return can move
# 20,000 workers' alerts, and a 6 MB email helps nobody (the subject still counts them all).
MAX_SHOWN = 50

WORDS = {"opened": "breached", "escalated": "breached", "deescalated": "improved", "resolved": "back on target",
         "reminder": "still red"}


def provider_name(provider: str) -> str:
    return provider.replace("-", " ").replace("_", " ").title()


def worst(changes: tuple[Change, ...]) -> str:
    return max((c.to_state for c in changes), key=lambda s: SEVERITY.get(s, 0))


def subject_line(changes: tuple[Change, ...]) -> str:
    """e.g. '[RED] Sandwell: 2 KPIs breached in the 2024-10 return'."""
    noun = "KPI" if all(c.code for c in changes) else "alert"
    counts = Counter(WORDS[c.kind] for c in changes)
    parts = []
    for word in ("breached", "still red", "improved", "back on target"):
        if counts[word]:
            parts.append(f"{counts[word]} {noun}{'s' if counts[word] != 1 else ''} {word}")
    providers = sorted({c.provider for c in changes})
    who = provider_name(providers[0]) if len(providers) == 1 else f"{len(providers)} providers"
    periods = sorted({c.period for c in changes})
    if all(c.kind == "reminder" for c in changes):
        where = f"(latest period {periods[-1]})"
    else:
        where = f"in the {periods[-1]} return"
    return f"[{worst(changes).upper()}] {who}: {', '.join(parts)} {where}"


def reminder_line(change: Change) -> str:
    """What a reminder says about one alert, e.g. 'still red since 2024-10, no newer return
    yet' or 'still red since 2024-10, latest 2025-01', then the latest acknowledgement
    ('acknowledged by X on 2024-11-20: note'). Plain text: the templates escape it."""
    since = change.red_since or change.period
    if change.newest_period and change.newest_period > change.period:  # newer returns left it out
        tail = f"latest {change.period}; not in the newer returns (up to {change.newest_period})"
    elif change.period > since:
        tail = f"latest {change.period}"
    else:
        tail = "no newer return yet"
    line = f"still red since {since}, {tail}"
    if change.acknowledged:
        by, on, note = change.acknowledged
        line += f"; acknowledged by {by} on {on}" + (f": {note}" if note else "")
    return line


def _code_order(item: tuple[str | None, str]) -> tuple:
    code = item[0] or ""
    return (int(code[2:]) if code[:2].upper() == "PI" and code[2:].isdigit() else 999, code, item[1])


def not_reported(changes: tuple[Change, ...]) -> list[tuple[str | None, str]]:
    """(code, name) of the KPIs the message's return(s) left unreported, in code order."""
    return sorted({n for c in changes for n in c.not_reported}, key=_code_order)


def _context(group: Group, recipient: str, base_url: str) -> dict:
    # An email's unsubscribe link is a placeholder until it leaves: the deliver step signs a
    # token then and puts its URL in place of LINK_MARK (email only; a Teams card has none).
    link = LINK_MARK if base_url and group.channel == "email" else ""
    return {"changes": group.changes, "max_shown": MAX_SHOWN, "recipient": recipient, "rag": RAG, "base_url": base_url,
            "improving": IMPROVING, "provider_name": provider_name, "words": WORDS, "unsubscribe_url": link,
            "reminder_line": reminder_line, "reminders": all(c.kind == "reminder" for c in group.changes),
            "not_reported": not_reported(group.changes),
            "return_periods": ", ".join(sorted({c.period for c in group.changes if c.kind != "reminder"}))}


def render(group: Group, recipient: str, base_url: str = "", headers: dict[str, str] | None = None
           ) -> OutgoingMessage:
    env = environment()
    ctx = _context(group, recipient, base_url)
    return OutgoingMessage(
        key=group.key,
        subject=subject_line(group.changes),
        html=env.get_template("changes.html").render(ctx),
        text=env.get_template("changes.md").render(ctx),
        severity=worst(group.changes),
        headers=headers or {},
    )
