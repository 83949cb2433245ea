"""One Jinja2 environment for every message: autoescape for HTML (names in returns are
untrusted), shared filters, and the small HTML pieces (RAG chip, trend bars) built so they
render in Outlook: tables, bgcolor and attributes, no images. What carries meaning (bar
heights and colours, the chip's colour) is in attributes or inline; a few cosmetic classes
(padding, grey text) come from the digest's <style> and degrade to plain text without it."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from urllib.parse import quote, urlencode

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from rules import vocabulary

RAG = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
RAG_TEXT = {"green": "#fff", "amber": "#222", "red": "#fff"}
ARROW = {"better": "\u2197", "worse": "\u2198", "same": "\u2192", "new": "\u2022"}


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


def pounds(value: float) -> str:
    """Money with its sign before the pound: £10.19m, -£500,000 -> '-£500,000', £0."""
    return ("-" if value < 0 else "") + gbp(abs(value))


def share(value: float | None) -> str:
    """A rated percentage that is not a 0-100 `percent` unit (an overspend can be negative): 9.7%."""
    return "-" if value is None else f"{value:.1f}%"


def indicator_url(base_url: str, indicator: str, provider: str, subject: str | None = None) -> str:
    """The status page of one indicator for one provider: BASE/indicators/KEY?provider=P, with
    &subject=S for a team or worker row (caseload rules share one measure); '' without a base."""
    if not base_url:
        return ""
    query = {"provider": provider, **({"subject": subject} if subject and subject != provider else {})}
    return f"{base_url.rstrip('/')}/indicators/{quote(indicator, safe='')}?{urlencode(query, quote_via=quote)}"


def rated(rating: str | None) -> str:
    """'RED, in failure': the colour beside the trust's words; 'unrated' for none."""
    return f"{rating.upper()}, {vocabulary.STATUS[rating]}" if rating in vocabulary.STATUS else "unrated"


def thousands(n: int) -> str:
    """2295 -> '2,295'."""
    return f"{n:,}"


def band_text(text: object) -> str:
    """'>= 85 and < 90' -> '≥ 85 and < 90': reads as the contract does."""
    return str(text).replace(">=", "≥").replace("<=", "≤")


def day(moment: dt.datetime | dt.date) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def chip(rating: str | None) -> Markup:
    """The rating as a coloured label: colours inline (they carry the rating), the rest from
    class "c" in the digest's <style> (padding, bold; cosmetic). One per row of a digest."""
    if rating not in RAG:
        return Markup('<span class="m">unrated</span>')
    # Safe: the colours come from RAG / RAG_TEXT and the text is escaped.
    return Markup(f'<span class=c style="background:{RAG[rating]};color:{RAG_TEXT[rating]}">'  # noqa: S704
                  f'{escape(rating.upper())}</span>')


def bars(row: object, height: int = 28) -> Markup:
    """A 12-period trend: one cell per period, valign=bottom, holding a one-cell table whose
    height is the value and whose bgcolor is the rating. Outlook renders td heights and
    bgcolor (it ignores most CSS on divs and blocks images by default); class "b" (font-size
    and line-height 0, in the digest's <style>) stops it stretching a 2 px cell to a line of
    text. Kept lean because a digest holds twelve per indicator and Gmail clips emails over
    102 KB: no role or border on the inner tables, no &nbsp;, the outer cellspacing is the gap,
    and attribute values that need no quotes have none (Word, Outlook's renderer, writes HTML
    that way itself). About 145 bytes a bar with its title ("PERIOD: VALUE", shown on hover),
    six bars a line: email lines stay under SMTP's 998 octets, so the digest goes 8-bit as
    written, and a mail server reads a few hundred lines, not thousands."""
    points = row.trend  # type: ignore[attr-defined]
    values = [p.value for p in points]
    top = max(values) if values and max(values) > 0 else 1.0
    cells = []
    for p in points:
        h = max(2, round(height * p.value / top)) if p.value > 0 else 2
        colour = RAG.get(p.rating or "", "#9e9e9e")
        cells.append(f'<td valign=bottom title="{escape(p.period)}: {p.value:g}"><table cellpadding=0 cellspacing=0>'
                     f'<tr><td class=b width=6 height={h} bgcolor={colour}></td></tr></table></td>')
    # Safe: integers, colours from RAG, the escaped period and a formatted float.
    return Markup(f'<table role=presentation cellpadding=0 cellspacing=1 height={height}>'  # noqa: S704
                  f'<tr>\n{"".join(cells[:6])}\n{"".join(cells[6:])}\n</tr></table>')


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("alerts.notify", "templates"), PackageLoader("alerts.digest", "templates")]),
        undefined=StrictUndefined, autoescape=select_autoescape(["html"], default_for_string=True, default=False),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(value=fmt_value, band=band_text, gbp=gbp, day=day, thousands=thousands,
                       pounds=pounds, share=share, rated=rated, status=vocabulary.status,
                       subject_name=vocabulary.subject_name, kind_name=vocabulary.kind_name)
    env.globals.update(chip=chip, bars=bars, arrow=ARROW, rag=RAG, indicator_url=indicator_url)
    return env
