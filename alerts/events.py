"""Domain events passed between modules: plain, frozen data. Their JSON shape is made by the
command line (alerts/json_output.py), not here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# held: stored with queries, awaiting confirmation (alerts/store/landing.py)
LandStatus = Literal["accepted", "duplicate", "restated", "held"]


@dataclass(frozen=True)
class Landed:
    """A return stored (or recognised as a byte-identical duplicate)."""

    return_id: int
    status: LandStatus
    provider: str
    kind: str
    periods: tuple[str, ...]
    supersedes: tuple[int, ...] = ()  # held returns this one (a corrected file) replaced


@dataclass(frozen=True)
class RatingResult:
    """One rating an evaluation stored: a (rule, subject, period) and its value and band."""

    rule_id: str
    subject: str
    period: str
    value: float
    rating: str | None  # None: tracked but unrated


@dataclass(frozen=True)
class Move:
    """A transition to record against the alert of (rule_id, subject)."""

    rule_id: str
    subject: str
    team: str | None
    from_state: str | None
    to_state: str
    kind: str
    period: str
    value: float


@dataclass(frozen=True)
class AlertTransition(Move):
    """The move as stored: an alert_events row of kind opened | escalated | deescalated |
    resolved | reminder, with the ids and provenance it was given."""

    id: int
    alert_id: int
    provider: str
    return_id: int | None
    at: dt.datetime | None = None

    def as_row(self) -> dict:
        """The event as the notify pipeline's `build_change` reads it (not `asdict`: it deep-copies)."""
        return dict(id=self.id, alert_id=self.alert_id, rule_id=self.rule_id, subject=self.subject,
                    provider=self.provider, team=self.team, from_state=self.from_state, to_state=self.to_state,
                    kind=self.kind, period=self.period, value=self.value, return_id=self.return_id, at=self.at)


@dataclass(frozen=True)
class EvaluationOutcome:
    """What evaluating one return produced."""

    return_id: int
    ratings: tuple[RatingResult, ...]
    transitions: tuple[AlertTransition, ...]
    deliveries: tuple[int, ...] = ()  # outbox rows written with the transitions, to send after commit
    # measure keys of the suite in force that a KPI return left blank or out, sorted (issue 10)
    not_reported: tuple[str, ...] = ()
    # True when another evaluation (or an earlier one) had rated it: this call only read it back
    read_back: bool = False

    def __repr__(self) -> str:  # Celery logs task results: keep it one short line
        return (f"EvaluationOutcome(return {self.return_id}: {len(self.ratings)} ratings, "
                f"{len(self.transitions)} transitions)")


@dataclass(frozen=True)
class Deferred:
    """An evaluation that could not be handed to the workers now (the broker is unreachable):
    the return stays stored and pending, and the relay publishes it once the broker is back."""

    return_id: int
    reason: str  # one line, e.g. "OperationalError: Error 111 connecting to 127.0.0.1:6379"
