"""The rule-pack schema (pydantic). A pack is YAML; this is what it may say.

One source of truth per fact: a KPI's name, code, unit, polarity, tags, comparators and
bands live in its pack, and templates, CLI and digests read them from here.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.vocabulary import SEVERITY

ReturnKind = Literal["kpi", "finance", "caseload"]
Unit = Literal["percent", "rate_per_10000", "count", "gbp", "number"]
Polarity = Literal["higher_is_better", "lower_is_better", "two_sided"]
Basis = Literal["contract", "target_only", "unrated", "pack"]
Scope = Literal["provider", "team", "worker"]
SERVICES = ("assessment_intervention", "court_child_protection", "children_we_care_for", "care_leavers")


class Rating(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def severity(self) -> int:
        return SEVERITY[self.value]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Strict):
    """One interval of the real line; each side open or closed, or unbounded.

    Written with explicit operators so nobody has to guess an edge: `{gt: 70, lte: 85}`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # edges are finite numbers

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _one_edge_per_side(self) -> Interval:
        if self.gt is not None and self.gte is not None:
            raise ValueError("give the lower edge once: gt or gte, not both")
        if self.lt is not None and self.lte is not None:
            raise ValueError("give the upper edge once: lt or lte, not both")
        lo, lo_incl = self.lower
        hi, hi_incl = self.upper
        if lo > hi or (lo == hi and not (lo_incl and hi_incl)):
            raise ValueError(f"empty interval {self.describe()}")
        return self

    @property
    def lower(self) -> tuple[float, bool]:
        """(edge, inclusive); -inf when unbounded."""
        if self.gte is not None:
            return self.gte, True
        if self.gt is not None:
            return self.gt, False
        return float("-inf"), False

    @property
    def upper(self) -> tuple[float, bool]:
        if self.lte is not None:
            return self.lte, True
        if self.lt is not None:
            return self.lt, False
        return float("inf"), False

    @cached_property
    def _edges(self) -> tuple[float, bool, float, bool]:
        return (*self.lower, *self.upper)

    def contains(self, value: float) -> bool:
        lo, lo_incl, hi, hi_incl = self._edges
        return (value > lo or (lo_incl and value == lo)) and (value < hi or (hi_incl and value == hi))

    def describe(self) -> str:
        """Human form, e.g. '> 70 and <= 85'."""
        parts = []
        for op, v in ((">=", self.gte), (">", self.gt), ("<=", self.lte), ("<", self.lt)):
            if v is not None:
                parts.append(f"{op} {v:g}")
        return " and ".join(parts) or "any value"


class Bands(_Strict):
    """Green / amber / red as unions of intervals; together they must cover the real line
    exactly once (checked by `rules.check`)."""

    green: list[Interval] = Field(default_factory=list)
    amber: list[Interval] = Field(default_factory=list)
    red: list[Interval] = Field(default_factory=list)

    @cached_property
    def _pairs(self) -> tuple[tuple[Rating, Interval], ...]:
        return tuple((Rating(name), iv) for name in ("green", "amber", "red") for iv in getattr(self, name))

    def by_rating(self) -> tuple[tuple[Rating, Interval], ...]:
        return self._pairs  # computed once: rating is on the hot path

    @cached_property
    def _described(self) -> dict[str, str]:
        return {name: " or ".join(iv.describe() for iv in getattr(self, name)) for name in ("green", "amber", "red")}

    def describe(self) -> dict[str, str]:
        return dict(self._described)

    @cached_property
    def as_dict(self) -> dict[str, str]:
        """The description with sorted keys, made once and shared by every rating that uses
        these bands (stored as the ratings' `thresholds` JSON): read it, never change it."""
        return dict(sorted(self._described.items()))


class CaseloadCeilings(_Strict):
    """Per-subject bands for caseloads: green <= ceiling, amber <= amber_factor x ceiling, red above."""

    by_service: dict[str, float]
    asye_factor: float = Field(0.8, gt=0, le=1)
    amber_factor: float = Field(1.2, gt=1)

    @field_validator("by_service")
    @classmethod
    def _known_services(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(SERVICES))
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; expected some of {list(SERVICES)}")
        return v


class RuleVersion(_Strict):
    """A dated version of a rule's thresholds. Contracts revise KPIs every year."""

    effective_from: dt.date
    effective_to: dt.date | None = None
    basis: Basis = "contract"
    bands: Bands | None = None
    ceilings: CaseloadCeilings | None = None
    source: str | None = None
    notes: list[str] = Field(default_factory=list)

    def applies_to(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    @model_validator(mode="after")
    def _bands_match_basis(self) -> RuleVersion:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.basis == "unrated":
            if self.bands is not None or self.ceilings is not None:
                raise ValueError("an unrated version has no bands or ceilings")
        elif self.bands is None and self.ceilings is None:
            raise ValueError(f"basis {self.basis!r} needs bands (or ceilings for caseloads)")
        return self


class Plausible(_Strict):
    """The values a return may give for a measure at all, e.g. `{min: 0, max: 100}` for a
    percentage: a value outside it is a mistake in the return (rejected, the range named),
    not a rating."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min: float
    max: float

    @model_validator(mode="after")
    def _min_below_max(self) -> Plausible:
        if not self.min < self.max:
            raise ValueError(f"plausible min ({self.min:g}) must be below max ({self.max:g})")
        return self


class Comparator(_Strict):
    name: str
    value: float
    as_of: str | None = None
    source: str | None = None


class Amount(_Strict):
    """The money behind a rule rated as a percentage of something (finance): messages lead
    with it, in pounds, and say what the percentage is of ("forecast overspend £10.19m, 9.7% of
    funding"). Each key names a `gbp` input or derived measure of the rule's kind."""

    measure: str  # the amount, e.g. forecast_overspend
    of: str  # what the rated percentage is a share of, e.g. funding
    also: list[str] = Field(default_factory=list)  # more amounts shown beside it (outturn, contract sum)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.measure, self.of, *self.also)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    # `return`: rated from a return's values. `calendar`: the expected-returns calendar's rule
    # `return_overdue_<kind>` (rules/calendar.py): never rated from a return, never a measure a
    # return may carry; its value is the number of that kind's returns missing.
    rated_by: Literal["return", "calendar"] = "return"
    name: str
    kind: ReturnKind
    measure: str | None = None  # the measure rated; defaults to the rule id
    code: str | None = None  # contract code in this pack's suite, e.g. PI1
    unit: Unit
    polarity: Polarity
    scope: Scope = "provider"
    tags: list[str] = Field(default_factory=list)
    comparators: list[Comparator] = Field(default_factory=list)
    for_periods: int = Field(1, ge=1, le=24)
    reminder_days: int | None = Field(None, ge=1)
    plausible: Plausible | None = None  # values outside it are rejected with the return
    amount: Amount | None = None  # the rated value is a percentage of `amount.of`: see Amount
    versions: list[RuleVersion] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)

    @property
    def measure_key(self) -> str:
        return self.measure or self.id

    def version_for(self, day: dt.date) -> RuleVersion | None:
        for version in self.versions:
            if version.applies_to(day):
                return version
        return None


class Input(_Strict):
    """A measure a return may carry that no rule rates directly (e.g. a population)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    kind: ReturnKind
    unit: Unit
    plausible: Plausible | None = None


class Derived(_Strict):
    """A measure computed from others by a restricted expression (see rules.expressions)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    kind: ReturnKind
    unit: Unit
    expr: str
    # Only computed when this measure is not reported directly (e.g. a rate from counts),
    # so one fact is never rated twice.
    fallback_for: str | None = None


class ReturnDue(_Strict):
    """When a return of one kind is due: by `due_day` of the month after its period (on that day,
    local time, is in time), and `grace_days` more before it is missing."""

    due_day: int = Field(ge=1, le=28)
    grace_days: int = Field(0, ge=0, le=60)


class PackSettings(_Strict):
    reminder_days: int = Field(7, ge=1)
    return_due_day: int = Field(15, ge=1, le=28)  # KPI return expected by this day of the next month
    # The returns this pack expects, per kind: `returns: {kpi: {due_day: 15, grace_days: 5}}`.
    # Without it, a contract suite's pack expects its KPI return by `return_due_day`, no grace.
    returns: dict[ReturnKind, ReturnDue] | None = None

    @model_validator(mode="after")
    def _one_kpi_due_day(self) -> PackSettings:
        kpi = (self.returns or {}).get("kpi")
        if kpi is not None and "return_due_day" in self.model_fields_set and kpi.due_day != self.return_due_day:
            raise ValueError(f"return_due_day {self.return_due_day} and returns.kpi.due_day {kpi.due_day} "
                             "disagree: give returns.kpi only")
        return self


class Pack(_Strict):
    pack: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    source: str | None = None
    suite: str | None = None  # a contract KPI suite: codes resolve against it
    providers: list[str] = Field(default_factory=list)  # empty: every provider
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    settings: PackSettings = Field(default_factory=PackSettings)
    params: dict[str, float] = Field(default_factory=dict)  # named values for expressions
    inputs: list[Input] = Field(default_factory=list)
    derived: list[Derived] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def expected_returns(self) -> dict[str, ReturnDue]:
        """kind -> when its return is due, for the returns this pack expects (see PackSettings)."""
        if self.settings.returns is not None:
            return dict(self.settings.returns)
        return {"kpi": ReturnDue(due_day=self.settings.return_due_day)} if self.suite else {}

    def applies_to_provider(self, provider: str) -> bool:
        return not self.providers or provider in self.providers

    def in_force(self, day: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to
        )
