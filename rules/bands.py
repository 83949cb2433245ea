"""Rating a value against bands, and checking that bands cover every value exactly once.

Pure functions: no I/O. The contract's subtleties (strict or inclusive edges, two-sided
bands, gaps in the contract table) are settled in the pack; here they are only applied.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from rules.model import Bands, CaseloadCeilings, Interval, Rating, Rule
from rules.vocabulary import BAND, RATINGS


class UnratableValue(ValueError):
    """NaN, or a value no band claims (only possible with bands that failed `rules check`)."""


def rate(value: float, bands: Bands) -> Rating:
    if math.isnan(value):
        raise UnratableValue("NaN cannot be rated")
    for rating, interval in bands.by_rating():
        if interval.contains(value):
            return rating
    raise UnratableValue(f"no band claims {value!r}")


@dataclass(frozen=True)
class CoverageProblem:
    band: str  # which band(s) the problem concerns, e.g. 'amber' or 'green+amber'
    message: str


def _fmt(edge: float, inclusive: bool, lower: bool) -> str:
    if math.isinf(edge):
        return "-inf" if lower else "inf"
    return f"{'[' if inclusive else '('}{edge:g}" if lower else f"{edge:g}{']' if inclusive else ')'}"


def coverage_problems(bands: Bands) -> list[CoverageProblem]:
    """Gaps and overlaps over the whole real line.

    Sort intervals by lower edge; each must start exactly where the previous one ended,
    with exactly one of the two touching edges inclusive.
    """
    items = sorted(bands.by_rating(), key=lambda ri: (ri[1].lower[0], not ri[1].lower[1]))
    problems: list[CoverageProblem] = []
    if not items:
        return [CoverageProblem("all", "no bands given")]
    first_rating, first = items[0]
    if not math.isinf(first.lower[0]):
        problems.append(CoverageProblem(first_rating.value, f"gap below {_fmt(*first.lower, lower=True)}"))
    prev_rating, prev = items[0]
    for rating, cur in items[1:]:
        (hi, hi_incl), (lo, lo_incl) = prev.upper, cur.lower
        pair = f"{prev_rating.value}+{rating.value}"
        if hi < lo or (hi == lo and not hi_incl and not lo_incl):
            gap = f"{'[' if not hi_incl else '('}{hi:g}, {lo:g}{']' if not lo_incl else ')'}"
            problems.append(CoverageProblem(pair, f"gap {gap}: no band claims these values"))
        elif hi > lo or (hi == lo and hi_incl and lo_incl):
            problems.append(
                CoverageProblem(pair, f"overlap: {prev.describe()} ({prev_rating.value}) and {cur.describe()} "
                                      f"({rating.value}) both claim values near {lo:g}")
            )
        if (cur.upper[0], cur.upper[1]) > (prev.upper[0], prev.upper[1]):
            prev_rating, prev = rating, cur
    if not math.isinf(prev.upper[0]):
        problems.append(CoverageProblem(prev_rating.value, f"gap above {_fmt(*prev.upper, lower=False)}"))
    return problems


def is_monotone(bands: Bands, higher_is_better: bool) -> bool:
    """One-sided bands: walking up the number line, severity only falls (or only rises)."""
    ordered = sorted(bands.by_rating(), key=lambda ri: ri[1].lower)
    severities = [r.severity for r, _ in ordered]
    want = sorted(severities, reverse=higher_is_better)
    return severities == want


def ceiling_bands(ceiling: float, amber_factor: float) -> Bands:
    """Green <= ceiling, amber <= amber_factor x ceiling, red above."""
    top = round(ceiling * amber_factor, 6)  # 17.6 * 1.2 must be 21.12, not 21.120000000000001
    return Bands(green=[Interval(lte=ceiling)], amber=[Interval(gt=ceiling, lte=top)], red=[Interval(gt=top)])


def service_ceiling(ceilings: CaseloadCeilings, service: str, asye: bool = False) -> float | None:
    """A worker's ceiling: the service's, reduced for ASYE workers; None if the pack sets none."""
    base = ceilings.by_service.get(service)
    if base is None:
        return None
    return round(base * (ceilings.asye_factor if asye else 1.0), 6)


# --- the bands as the contract states them ----------------------------------------------
# "Target: 85% or more. Within tolerance: above 70% and below 85%. Failure: 70% or less."
# Every edge says whether it belongs to the band: "or more" / "or less" (and "exactly") hold
# the edge, "above" / "below" do not. The indicator page's sentence and its month-by-month
# table both come from `band_sentence`, so the two cannot differ.


def quantity(value: float, unit: str) -> str:
    """An edge as a leader reads it, exactly (no rounding: 70.01 stays 70.01): '85%',
    '45 per 10,000', '£1,000', '22'."""
    number = f"{abs(int(value)):,}" if value.is_integer() else format(abs(value), ",")
    sign = "-" if value < 0 else ""
    if unit == "percent":
        return f"{sign}{number}%"
    if unit == "rate_per_10000":
        return f"{sign}{number} per 10,000"
    if unit == "gbp":
        return f"{sign}£{number}"
    return sign + number


def _words(unit: str) -> tuple[str, str, str, str]:
    """(at or above, strictly above, at or below, strictly below), after or before the edge:
    things counted are 'fewer', amounts 'less'."""
    if unit == "count":
        return "or more", "more than", "or fewer", "fewer than"
    return "or more", "above", "or less", "below"


def interval_words(interval: Interval, unit: str) -> str:
    """'85% or more', 'above 70% and below 85%', '67% or more and 75% or less', 'exactly 0'."""
    (lo, lo_incl), (hi, hi_incl) = interval.lower, interval.upper
    or_more, above, or_less, below = _words(unit)
    if lo == hi:
        return f"exactly {quantity(lo, unit)}"
    parts = []
    if math.isfinite(lo):
        parts.append(f"{quantity(lo, unit)} {or_more}" if lo_incl else f"{above} {quantity(lo, unit)}")
    if math.isfinite(hi):
        parts.append(f"{quantity(hi, unit)} {or_less}" if hi_incl else f"{below} {quantity(hi, unit)}")
    return " and ".join(parts) or "any value"


def band_words(intervals: list[Interval], unit: str) -> str:
    """A band of one or more intervals, lowest first: '62% or more and below 67%, or above 75%'."""
    ordered = sorted(intervals, key=lambda iv: (iv.lower[0], not iv.lower[1]))
    return ", or ".join(interval_words(iv, unit) for iv in ordered)


def band_sentence(bands: Bands, unit: str) -> str:
    """The bands as the contract states them, each band that has values: 'Target: 85% or more.
    Within tolerance: above 70% and below 85%. Failure: 70% or less.'"""
    return " ".join(f"{BAND[name]}: {band_words(getattr(bands, name), unit)}."
                    for name in RATINGS if getattr(bands, name))


def sentence_unit(rule: Rule) -> str:
    """The unit a rule's edges are in: a rule rated as a share of an amount (finance) is in %."""
    return "percent" if rule.amount is not None else rule.unit


_OPS = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
_PART = re.compile(r"^(>=|>|<=|<) (\S+)$")


def bands_from_described(described: Mapping[str, object]) -> Bands | None:
    """The bands a rating was made with, from their stored description (a rating's
    `thresholds`: Bands.describe(), e.g. {"green": ">= 85", "amber": "> 70 and < 85"}); None
    when it holds none, or something this does not read."""
    found: dict[str, list[Interval]] = {}
    try:
        for name in RATINGS:
            text = described.get(name)
            if not isinstance(text, str) or not text:
                continue
            found[name] = []
            for piece in text.split(" or "):
                edges: dict[str, float] = {}
                if piece != "any value":
                    for part in piece.split(" and "):
                        match = _PART.match(part)
                        if match is None:
                            return None
                        edges[_OPS[match[1]]] = float(match[2])
                found[name].append(Interval(**edges))
    except ValueError:  # a number that is none, or an empty interval
        return None
    return Bands(**found) if found else None
