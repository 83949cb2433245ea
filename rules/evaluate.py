"""Rate one provider's observations for one period against every applicable rule. Pure.

Each rule whose inputs are present rates each subject (the provider, a team, a worker).
Derived measures are computed first; a value the return reports directly wins over a
derived one of the same key.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import fmean
from typing import Protocol

from rules.bands import ceiling_bands, rate, service_ceiling
from rules.catalog import BoundRule, Catalog
from rules.expressions import compile_expression
from rules.model import Bands, Rating, RuleVersion
from rules.periods import period_start

log = logging.getLogger(__name__)


class ObservationLike(Protocol):
    measure: str
    value: float | None
    team: str | None
    service: str | None
    worker: str | None
    asye: bool | None


@dataclass(frozen=True)
class Evaluation:
    rule: BoundRule
    subject: str
    provider: str
    period: str
    value: float
    rating: Rating | None  # None: tracked but unrated
    thresholds: dict[str, str | float]  # the bands used (sorted keys; shared: never change it)
    version: str  # effective_from of the rule version used
    team: str | None = None  # the team of a team or worker subject


@dataclass(frozen=True)
class Skipped:
    """A rule that could not rate this period: no rating (no row), and why."""

    rule: BoundRule
    subject: str
    provider: str
    period: str
    reason: str


def subject_for(provider: str, team: str | None = None, worker: str | None = None) -> str:
    if worker is not None:
        return f"{provider}/worker/{worker}"
    if team is not None:
        return f"{provider}/team/{team}"
    return provider


def _thresholds(bands: Bands | None, **extra: float) -> dict[str, str | float]:
    if bands is not None and not extra:
        return bands.as_dict  # cached on the (long-lived) pack bands
    data: dict[str, str | float] = {**(bands.describe() if bands is not None else {}), **extra}
    return dict(sorted(data.items()))


def derive(catalog: Catalog, kind: str, provider: str, values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Reported values plus every derived measure computable from them."""
    return derive_explained(catalog, kind, provider, values)[0]


def derive_explained(catalog: Catalog, kind: str, provider: str, values: Mapping[str, float | None]
                     ) -> tuple[dict[str, float | None], dict[str, str]]:
    """As derive, with why each derived measure whose arithmetic failed is missing."""
    out = dict(values)
    why: dict[str, str] = {}
    pending = [d for _, d in catalog.derived_for(kind, provider) if out.get(d.key) is None
               and (d.fallback_for is None or out.get(d.fallback_for) is None)]
    params = {k: v for p in catalog.packs for k, v in p.params.items()}
    for _ in range(len(pending)):  # derived measures may build on each other
        still = []
        for d in pending:
            value, reason = compile_expression(d.expr).attempt({**params, **out})
            if value is None:
                still.append(d)
                if reason is not None:
                    why[d.key] = f"derived {d.key}: {reason}"
            else:
                out[d.key] = value
                why.pop(d.key, None)
        if len(still) == len(pending):
            break
        pending = still
    return out, why


def _rated(bound: BoundRule, version: RuleVersion, bands: Bands | None, provider: str, period: str,
           subject: str, value: float, team: str | None = None, **extra: float) -> Evaluation:
    if not math.isfinite(value):
        raise ValueError(f"{subject}: the value {value} is not a finite number")
    rating = rate(value, bands) if bands is not None and version.basis != "unrated" else None
    return Evaluation(bound, subject, provider, period, value, rating, _thresholds(bands, **extra),
                      version.effective_from.isoformat(), team)


def evaluate_period(
    catalog: Catalog, kind: str, provider: str, period: str, observations: Iterable[ObservationLike]
) -> list[Evaluation]:
    """The ratings; a rule that cannot rate (see evaluate_period_explained) is logged and left out."""
    evaluations, skipped = evaluate_period_explained(catalog, kind, provider, period, observations)
    for s in skipped:
        log.warning("not rated: %s %s %s: %s", s.rule.id, s.subject, s.period, s.reason)
    return evaluations


def evaluate_period_explained(
    catalog: Catalog, kind: str, provider: str, period: str, observations: Iterable[ObservationLike]
) -> tuple[list[Evaluation], list[Skipped]]:
    """The ratings, and the rules that could not rate with the reason (an expression's
    division by zero or overflow, a value no band claims). Never raises for finite inputs."""
    day = period_start(period)
    rules = [(b, v) for b in catalog.rules_for(kind, provider) if b.pack.in_force(day)
             for v in [b.rule.version_for(day)] if v is not None]
    if not rules:
        return [], []
    observations = list(observations)
    out: list[Evaluation] = []
    skipped: list[Skipped] = []
    if kind == "caseload":
        for b, v in rules:
            try:
                out += _caseload(b, v, provider, period, observations)
            except (ArithmeticError, ValueError) as exc:
                skipped.append(Skipped(b, provider, provider, period, _why(exc)))
        return out, skipped
    values, why = derive_explained(catalog, kind, provider, {o.measure: o.value for o in observations})
    for bound, version in rules:
        value = values.get(bound.rule.measure_key)
        if value is None:
            if bound.rule.measure_key in why:
                skipped.append(Skipped(bound, provider, provider, period, why[bound.rule.measure_key]))
            continue
        try:
            out.append(_rated(bound, version, version.bands, provider, period, provider, value))
        except (ArithmeticError, ValueError) as exc:
            skipped.append(Skipped(bound, provider, provider, period, _why(exc)))
    return out, skipped


def _why(exc: Exception) -> str:
    if isinstance(exc, OverflowError):
        return "a number too large (overflow)"
    return str(exc) or type(exc).__name__


def _caseload(bound: BoundRule, version: RuleVersion, provider: str, period: str,
              observations: list[ObservationLike]) -> list[Evaluation]:
    rows = [o for o in observations if o.measure == bound.rule.measure_key and o.value is not None]
    scope, ceilings = bound.rule.scope, version.ceilings
    if not rows:
        return []
    if scope == "provider":
        mean = round(fmean(o.value for o in rows), 4)  # type: ignore[misc]
        return [_rated(bound, version, version.bands, provider, period, provider, mean)]
    if ceilings is None:
        return []
    out = []
    if scope == "worker":
        for o in rows:
            ceiling = service_ceiling(ceilings, o.service or "", bool(o.asye))
            if ceiling is not None:
                out.append(_rated(bound, version, ceiling_bands(ceiling, ceilings.amber_factor), provider, period,
                                  subject_for(provider, worker=o.worker), float(o.value),  # type: ignore[arg-type]
                                  team=o.team, ceiling=ceiling))
        return out
    teams: dict[str, list[ObservationLike]] = defaultdict(list)
    for o in rows:
        if service_ceiling(ceilings, o.service or "") is not None:
            teams[o.team or "(no team)"].append(o)
    for team, members in sorted(teams.items()):
        # A team is held to its service's ceiling; a team spanning services, to the mean of its members'.
        ceiling = round(fmean(service_ceiling(ceilings, m.service or "") for m in members), 4)  # type: ignore[misc]
        mean = round(fmean(m.value for m in members), 4)  # type: ignore[misc]
        out.append(_rated(bound, version, ceiling_bands(ceiling, ceilings.amber_factor), provider, period,
                          subject_for(provider, team=team), mean, team=team, ceiling=ceiling))
    return out
