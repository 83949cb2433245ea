"""Rating a value against bands, and checking that bands cover every value exactly once.

Pure functions: no I/O. The contract's subtleties (strict or inclusive edges, two-sided
bands, gaps in the contract table) are settled in the pack; here they are only applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rules.model import Bands, CaseloadCeilings, Interval, Rating


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
