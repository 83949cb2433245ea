"""Stage 5, render: a group of changes -> subject, HTML email body and a short text body
(Teams card). Jinja2 with autoescape on for HTML: names from returns are untrusted."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.notify.changes import IMPROVING, SEVERITY, Change
from alerts.notify.channels.base import OutgoingMessage
from alerts.notify.group import Group

RAG = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
WORDS = {"opened": "breached", "escalated": "breached", "deescalated": "improved", "resolved": "back on target",
         "reminder": "still red"}


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "percent":
        return f"{round(value, 2):g}%"
    if unit == "rate_per_10000":
        return f"{round(value, 2):g} per 10,000"
    if unit == "gbp":
        return f"£{value:,.0f}"
    return f"{round(value, 2):g}"


_MD_SPECIAL = str.maketrans({ch: f"\\{ch}" for ch in "\\`*_{}[]()<>#+!|~"})


def md_escape(text: str) -> str:
    """Untrusted names in the Teams card must not become links, images or formatting."""
    return str(text).translate(_MD_SPECIAL)


def band_text(text: str) -> str:
    """'>= 85 and < 90' -> '≥ 85 and < 90': reads as the contract does."""
    return str(text).replace(">=", "≥").replace("<=", "≤")


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


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("alerts.notify", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default_for_string=True, default=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["value"] = fmt_value
    env.filters["md"] = md_escape
    env.filters["band"] = band_text
    return env


def _context(group: Group, recipient: str, base_url: str) -> dict:
    return {"changes": group.changes, "recipient": recipient, "rag": RAG, "base_url": base_url,
            "improving": IMPROVING, "provider_name": provider_name, "words": WORDS}


def render(group: Group, recipient: str, base_url: str = "", headers: dict[str, str] | None = None
           ) -> OutgoingMessage:
    env = _env()
    ctx = _context(group, recipient, base_url)
    return OutgoingMessage(
        key=group.key,
        subject=subject_line(group.changes),
        html=env.get_template("changes.html").render(ctx),
        text=env.get_template("changes.md").render(ctx),
        severity=worst(group.changes),
        headers=headers or {},
    )
