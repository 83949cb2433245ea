"""The Teams message: an Adaptive Card (the JSON a Workflows webhook posts to a channel). Pure.

    title      the subject ('[RED] Sandwell: 2 KPIs in failure, 8 within tolerance in the 2024-04
               return', at most 78 characters), in the worst rating's colour
    lead       a restatement's first line: the return it corrects and the ratings it withdraws
    per change a Container: its name (with the team or worker on their rows), the rating in
               words and colour ('RED, in failure (was within tolerance)' in "attention";
               "warning" for amber, "good" for green), one fact a line (value, period, amounts,
               bands, previously, outside green, comparators, correction) and, with a base URL, an
               Action.OpenUrl button to the indicator's page
    'and N more changes: open the status page' (a link) when the rest would not fit
    the KPIs the return left unreported

The text of the body is at most `MAX_TEXT` characters: Teams shows a long card as a wall, and
the old one-TextBlock card was cut at Apprise's 1,000. Changes are added worst first while they
fit. Text that holds names (from returns, packs, acknowledgements) is a RichTextBlock of
TextRuns, which Adaptive Cards never read as markdown: a team name cannot become a link or
formatting, and nothing needs escaping (Teams mobile shows a markdown escape's backslash as it
is). Only our own words (the rating line, the count of changes left out and its link) are
TextBlocks.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.notify.changes import Change
from alerts.notify.wording import Item, item, lead, not_reported, return_periods, subject_line, worst
from rules import vocabulary

MAX_TEXT = 1000
COLOUR = {"red": "attention", "amber": "warning", "green": "good"}  # Adaptive Card colours
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_CLIP = 200  # characters of one fact or line at most, so one long name cannot crowd out the rest


def _clip(text: str, size: int = _CLIP) -> str:
    return text if len(text) <= size else text[:size - 1] + "\u2026"


def text_of(element: dict) -> int:
    """Characters of body text in a card element (TextBlocks and TextRuns, nested)."""
    n = len(element.get("text", "")) if element.get("type") in ("TextBlock", "TextRun") else 0
    n += sum(text_of(i) for i in element.get("inlines", ()))
    return n + sum(text_of(e) for e in element.get("items", ()))


def _block(text: str, **style: object) -> dict:
    """Our own words (markdown allowed: no name is in them)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _run(text: str, **style: object) -> dict:
    return {"type": "TextRun", "text": text, **style}


def _plain(text: str, block_id: str | None = None, **style: object) -> dict:
    """Text holding names, shown as it is: a RichTextBlock (never markdown)."""
    return {"type": "RichTextBlock", **({"id": block_id} if block_id else {}), "inlines": [_run(text, **style)]}


def fact(label: str, value: str) -> dict:
    """'Value: 68.8%' on its own line, the label bold."""
    return {"type": "RichTextBlock", "inlines": [_run(f"{label}: ", weight="Bolder"), _run(_clip(value))]}


def _facts(it: Item) -> list[tuple[str, str]]:
    """The item's facts for a card: the rating is its coloured line, and of the bands only the
    one the indicator is now in ('Failure: 70% or less'); the email and the page state all three."""
    now = vocabulary.BAND.get(it.state, "")
    mine = dict(it.bands).get(now)
    return [("Band", f"{now}: {mine}") if label == "Bands" and mine else (label, value)
            for label, value in it.facts if label != "Rating"]


def container(it: Item) -> dict:
    """One change: name, rating in words and colour, one fact a line, a button to its page."""
    items: list[dict] = [_plain(_clip(it.heading), weight="Bolder"),
                         _block(f"{it.rating}, {it.what}", color=COLOUR.get(it.state, "default"), weight="Bolder"),
                         *(fact(label, value) for label, value in _facts(it))]
    if it.url:
        name = it.change.code or it.change.name
        items.append({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": _clip(f"Open {name}", 60),
                                                        "url": it.url}]})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _more(n: int, base_url: str) -> dict:
    """'and 12 more changes: open the status page' (a link), or without a base URL, to the email."""
    where = f"[open the status page]({base_url.rstrip('/')}/status)" if base_url else "see the email"
    return _block(f"and {n:,} more change{'s' if n != 1 else ''}: {where}", id="more", isSubtle=True)


def card(changes: Sequence[Change], base_url: str = "", max_text: int = MAX_TEXT) -> dict:
    """The Workflows message for a group's changes (worst first), as a dict ready for JSON."""
    body = [_plain(subject_line(changes), "title", weight="Bolder", size="Medium",
                   color=COLOUR.get(worst(changes), "default"))]
    if any(c.restated for c in changes):  # otherwise the first line is the title's
        body.append(_plain(_clip(lead(changes), 300), "lead"))
    missing = not_reported(changes)
    gap = ""  # the KPIs the return left blank: counted first, named in the room the changes leave
    if missing:
        periods = return_periods(changes)
        gap = (f"Not reported this period{f' ({periods})' if periods else ''}: {len(missing)} "
               f"indicator{'s' if len(missing) != 1 else ''} left blank, not rated")
    used = sum(text_of(b) for b in body) + len(gap)
    reserve = text_of(_more(len(changes), base_url))
    several = len({c.provider for c in changes}) > 1
    shown = 0
    for c in changes:
        block = container(item(c, base_url, show_provider=several))
        size = text_of(block)
        room = max_text - used - (0 if shown == len(changes) - 1 else reserve)
        if size > room:
            break
        body.append(block)
        used += size
        shown += 1
    if shown < len(changes):
        body.append(_more(len(changes) - shown, base_url))
        used += text_of(body[-1])
    if gap:
        names = "; ".join(f"{code} {n}" if code else n for code, n in missing)
        room = max_text - used + len(gap)
        text = f"{gap}: {names}" if len(gap) + 2 + len(names) <= room else _clip(f"{gap}: {names}", room)
        body.append(_plain(text if len(text) > len(gap) + 3 else gap, "not-reported", isSubtle=True))
    content: dict = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body,
                     "msteams": {"width": "Full"}}
    if base_url:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Full status page",
                               "url": f"{base_url.rstrip('/')}/status"}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": content}]}
