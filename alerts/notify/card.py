"""The Teams message: an Adaptive Card (the JSON a Workflows webhook posts to a channel). Pure.

    title      '[RED] Sandwell: 2 KPIs breached in the 2024-10 return', in the worst rating's colour
    lead       a restatement's first line: the return it corrects and the ratings it withdraws
    per change a Container: its name (with the team or worker on their rows), the rating in
               words and colour ('RED, breached (was amber)' in "attention"; "warning" for amber,
               "good" for green), a FactSet with one fact a line (value, period, amounts, bands,
               previously, outside green, comparators, correction) and, with a base URL, an
               Action.OpenUrl button to the indicator's page
    'and N more: see the email or the status page' when the rest would not fit
    the KPIs the return left unreported

The text of the body (every TextBlock and fact) is at most `MAX_TEXT` characters: Teams shows a
long card as a wall, and the old one-TextBlock card was cut at Apprise's 1,000. Changes are added
worst first while they fit. Every name (from returns and packs) is markdown-escaped
(`md_escape`): a team name cannot become a link or formatting.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.notify.changes import Change
from alerts.notify.wording import Item, item, lead, not_reported, return_periods, subject_parts
from alerts.templating import md_escape

MAX_TEXT = 1000
COLOUR = {"red": "attention", "amber": "warning", "green": "good"}  # Adaptive Card colours
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_CLIP = 200  # characters of one fact or line at most, so one long name cannot crowd out the rest


def _clip(text: str, size: int = _CLIP) -> str:
    return text if len(text) <= size else text[:size - 1] + "\u2026"


def text_of(element: dict) -> int:
    """Characters of body text in a card element (TextBlocks and facts, nested)."""
    n = len(element.get("text", "")) if element.get("type") == "TextBlock" else 0
    n += sum(len(f["title"]) + len(f["value"]) for f in element.get("facts", ()))
    return n + sum(text_of(e) for e in element.get("items", ()))


def _block(text: str, **style: object) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def container(it: Item) -> dict:
    """One change: name, rating in words and colour, one fact a line, a button to its page."""
    facts = [{"title": label, "value": _clip(value)} for label, value in it.facts if label != "Rating"]
    items: list[dict] = [_block(_clip(it.heading), weight="Bolder"),
                         _block(f"{it.rating}, {it.what}", color=COLOUR.get(it.state, "default"), weight="Bolder"),
                         {"type": "FactSet", "facts": facts}]
    if it.url:
        name = it.change.code or it.change.name
        items.append({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": _clip(f"Open {name}", 60),
                                                        "url": it.url}]})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _more(n: int) -> dict:
    return _block(f"and {n:,} more: see the email or the status page", id="more", isSubtle=True)


def card(changes: Sequence[Change], base_url: str = "", max_text: int = MAX_TEXT) -> dict:
    """The Workflows message for a group's changes (worst first), as a dict ready for JSON."""
    rag, name, what = subject_parts(changes, md_escape)
    body = [_block(_clip(f"[{rag}] {name}: {what}", 300), id="title", weight="Bolder", size="Medium",
                   color=COLOUR.get(rag.lower(), "default"))]
    if any(c.restated for c in changes):  # otherwise the first line is the title's
        body.append(_block(_clip(lead(changes, md_escape), 300), id="lead"))
    missing = not_reported(changes)
    gap = ""  # the KPIs the return left blank: counted first, named in the room the changes leave
    if missing:
        periods = return_periods(changes)
        gap = (f"Not reported this period{f' ({periods})' if periods else ''}: {len(missing)} "
               f"indicator{'s' if len(missing) != 1 else ''} left blank, not rated")
    used = sum(text_of(b) for b in body) + len(gap)
    reserve = text_of(_more(len(changes)))
    several = len({c.provider for c in changes}) > 1
    shown = 0
    for c in changes:
        block = container(item(c, base_url, md_escape, show_provider=several))
        size = text_of(block)
        room = max_text - used - (0 if shown == len(changes) - 1 else reserve)
        if size > room:
            break
        body.append(block)
        used += size
        shown += 1
    if shown < len(changes):
        body.append(_more(len(changes) - shown))
        used += text_of(body[-1])
    if gap:
        names = "; ".join(f"{code} {md_escape(n)}" if code else md_escape(n) for code, n in missing)
        room = max_text - used + len(gap)
        text = f"{gap}: {names}" if len(gap) + 2 + len(names) <= room else _clip(f"{gap}: {names}", room)
        body.append(_block(text if len(text) > len(gap) + 3 else gap, id="not-reported", isSubtle=True))
    content: dict = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body,
                     "msteams": {"width": "Full"}}
    if base_url:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Full status page",
                               "url": f"{base_url.rstrip('/')}/status"}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": content}]}
