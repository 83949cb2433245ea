"""An indicator's series as server-rendered SVG: the value month by month over the green, amber
and red bands as they were in force that month (a dated revision shows as a step). Pure: data
in, markup out; every text escaped. The page puts the same data in a table beneath (the text
alternative), and the SVG carries a title and a description of its own."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from rules.vocabulary import STATUS

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
# light fills, strong enough to tell apart in print; the line and the points carry the value
FILL = {"green": "#cce2d8", "amber": "#fff7bf", "red": "#f4cdc6"}
BAND_LABEL = STATUS  # the trust's words (rules/vocabulary.py)


@dataclass(frozen=True)
class Interval:
    low: float  # -inf for none
    high: float  # +inf for none


@dataclass(frozen=True)
class Month:
    period: str
    value: float | None
    rating: str | None
    bands: dict[str, tuple[Interval, ...]]  # rating -> its intervals that month ({} when unknown)


@dataclass(frozen=True)
class Comparator:
    """A comparator line (statistical neighbours, England): each figure holds from its period
    ('' for an undated one, which holds from the start) until the next."""

    label: str
    figures: tuple[tuple[str, float], ...]  # (from period, value), oldest first

    def value_in(self, period: str) -> float | None:
        held = [v for since, v in self.figures if since <= period]
        return held[-1] if held else None


DASHES = ("6 4", "2 3", "10 3 2 3")


def _scale(months: Sequence[Month], comparators: Sequence[Comparator] = ()) -> tuple[float, float]:
    values = [m.value for m in months if m.value is not None] + [v for c in comparators for _, v in c.figures]
    edges = [e for m in months for ivs in m.bands.values() for iv in ivs for e in (iv.low, iv.high) if math.isfinite(e)]
    lo, hi = min(values + edges, default=0.0), max(values + edges, default=1.0)
    pad = (hi - lo) * 0.1 or max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round values for the value axis between lo and hi (steps of 1, 2, 2.5 or 5 times a
    power of ten), at most `most` of them: '60%, 70%, 80%', not '67, 77.6, 88.2'."""
    raw = (hi - lo) / max(most - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    digits = max(0, 2 - math.floor(math.log10(step)))  # 62.5 stays 62.5; 0.1 * 3 is 0.3
    return [round(k * step, digits) for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def series_svg(months: Sequence[Month], title: str, unit_suffix: str = "",
               comparators: Sequence[Comparator] = (), axis: str = "") -> Markup:
    """`axis`: the value axis's title with its unit ('Per cent (%)'), written up its side."""
    if not months:
        return Markup("")
    lo, hi = _scale(months, comparators)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(months)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))

    parts = []
    for i, m in enumerate(months):  # the bands in force each month
        for rating, ivs in m.bands.items():
            for iv in ivs:
                top, bottom = y(iv.high if math.isfinite(iv.high) else hi), y(iv.low if math.isfinite(iv.low) else lo)
                if bottom - top > 0:
                    parts.append(f'<rect x="{LEFT + i * step:.1f}" y="{top:.1f}" width="{step:.1f}" '
                                 f'height="{bottom - top:.1f}" fill="{FILL[rating]}"/>')
    for v in ticks(lo, hi):  # labelled gridlines at round values, with the unit
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#b1b4b6"/>'
                     f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="12">'
                     f'{escape(f"{v:g}{unit_suffix}")}</text>')
    if axis:
        middle = TOP + plot_h / 2
        parts.append(f'<text x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" text-anchor="middle" '
                     f'font-size="12">{escape(axis)}</text>')
    drawn: dict[tuple, list[str]] = {}  # comparators that draw the same line share it (England, West Midlands)
    for c in comparators:
        held = tuple((LEFT + (i + 0.5) * step, v) for i, m in enumerate(months)
                     if (v := c.value_in(m.period)) is not None)
        if held:
            drawn.setdefault(held, []).append(c.label)
    labels: list[tuple[float, float, str]] = []  # (y, x, text) of each line's label
    for (held, names), dash in zip(drawn.items(), DASHES * 3, strict=False):  # dashed: told apart without colour
        name = ", ".join(names)
        line = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in held)
        parts.append(f'<polyline fill="none" stroke="#505a5f" stroke-width="1.5" stroke-dasharray="{dash}" '
                     f'points="{line}"><title>{escape(name)}</title></polyline>')
        labels.append((y(held[-1][1]) - 5, held[-1][0], name))
    below = float("-inf")
    for ly, lx, text in sorted(labels):  # labels of lines close together: one beneath the other, on a halo
        below = max(ly, below + 12)
        parts.append(f'<text x="{lx:.1f}" y="{below:.1f}" text-anchor="end" font-size="11" stroke="#fff" '
                     f'stroke-width="3" paint-order="stroke">{escape(text)}</text>')
    points = [(LEFT + (i + 0.5) * step, y(m.value)) for i, m in enumerate(months) if m.value is not None]
    if len(points) > 1:
        parts.append('<polyline fill="none" stroke="#0b0c0c" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{py:.1f}" for x, py in points) + '"/>')
    for (x, py), m in zip(points, [m for m in months if m.value is not None], strict=True):
        label = f"{m.period}: {m.value:g}{unit_suffix}, {BAND_LABEL.get(m.rating or '', 'not rated')}"
        parts.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="4" fill="#0b0c0c"><title>{escape(label)}</title></circle>')
    every = max(1, math.ceil(len(months) / 12))
    for i, m in enumerate(months):
        if i % every == 0:
            parts.append(f'<text x="{LEFT + (i + 0.5) * step:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                         f'font-size="12">{escape(m.period)}</text>')
    first, last = months[0].period, months[-1].period
    desc = (f"{len(months)} months from {first} to {last}, over the bands in force each month: "
            + ", ".join(f"{r} {w}" for r, w in STATUS.items())
            + (f"; dashed lines: {', '.join(c.label for c in comparators)}" if comparators else "")
            + ". The table below holds the same figures.")
    # every text above went through escape(); the rest are numbers formatted here
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '  # noqa: S704
                  f'aria-labelledby="chart-title chart-desc" class="kpi-chart" width="100%">'
                  f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>'
                  + "".join(parts) + "</svg>")
