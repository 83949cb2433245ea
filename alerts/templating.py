"""One Jinja2 environment for every message: autoescape for HTML (names in returns are
untrusted), shared filters, and the small HTML pieces (RAG chip, trend bars) built so they
render in Outlook: tables, bgcolor and inline styles only, no images, no CSS classes."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

RAG = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
RAG_TEXT = {"green": "#ffffff", "amber": "#222222", "red": "#ffffff"}
ARROW = {"better": "\u2197", "worse": "\u2198", "same": "\u2192", "new": "\u2022"}
_MD_SPECIAL = str.maketrans({ch: f"\\{ch}" for ch in "\\`*_{}[]()<>#+!|~"})


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


def gbp(value: float) -> str:
    return f"£{value / 1e6:,.2f}m" if abs(value) >= 1e6 else f"£{value:,.0f}"


def md_escape(text: str) -> str:
    """Untrusted names in a Teams card must not become links, images or formatting."""
    return str(text).translate(_MD_SPECIAL)


def band_text(text: object) -> str:
    """'>= 85 and < 90' -> '≥ 85 and < 90': reads as the contract does."""
    return str(text).replace(">=", "≥").replace("<=", "≤")


def day(moment: dt.datetime | dt.date) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def chip(rating: str | None) -> Markup:
    if rating not in RAG:
        return Markup('<span style="color:#666;">unrated</span>')
    # Safe: the colours come from RAG / RAG_TEXT and the text is escaped.
    return Markup(f'<span style="background:{RAG[rating]};color:{RAG_TEXT[rating]};padding:2px 8px;'  # noqa: S704
                  f'border-radius:8px;font-weight:bold;font-size:12px">'
                  f'{escape(rating.upper())}</span>')


def bars(row: object, height: int = 28) -> Markup:
    """A 12-period trend as table cells whose height is the value (Outlook renders td heights
    and bgcolor; it ignores most CSS on divs and blocks images by default). Kept lean: a
    digest holds one per indicator, and Gmail clips emails over 102 KB."""
    points = row.trend  # type: ignore[attr-defined]
    values = [p.value for p in points]
    top = max(values) if values and max(values) > 0 else 1.0
    cells = []
    for p in points:
        h = max(2, round(height * p.value / top)) if p.value > 0 else 2
        colour = RAG.get(p.rating or "", "#9e9e9e")
        # class "b" (font-size/line-height 0, in the digest's <style>): Outlook would otherwise
        # stretch a 2 px cell to a line of text; values are in the row and the text part.
        cells.append(f'<td valign="bottom"><table cellpadding="0" cellspacing="0"><tr>'
                     f'<td class="b" width="6" height="{h}" bgcolor="{colour}"></td></tr></table></td>')
    # Safe: numbers and colours from RAG.
    return Markup(f'<table role="presentation" cellpadding="0" cellspacing="1" border="0" height="{height}">'  # noqa: S704
                  f'<tr>{"".join(cells)}</tr></table>')


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("alerts.notify", "templates"), PackageLoader("alerts.digest", "templates")]),
        undefined=StrictUndefined, autoescape=select_autoescape(["html"], default_for_string=True, default=False),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(value=fmt_value, md=md_escape, band=band_text, gbp=gbp, day=day)
    env.globals.update(chip=chip, bars=bars, arrow=ARROW, rag=RAG, one_day=dt.timedelta(days=1))
    return env
