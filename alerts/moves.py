"""Which alerts move and how: a pure decision over plain data (no session, no clock).

Input: the (rule, subject) keys a return rated, their alerts' current states, their rated
series (trailing periods only: see `settled`) and each rule's `for_periods`. Output: the alert
rows to create and to update, and the transitions to record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.events import Move
from alerts.lifecycle import next_state, outside_green, state_since
from rules.model import Rating

Key = tuple[str, str]  # (rule_id, subject)
Point = tuple[str, str, float]  # (period, rating, value), rated periods only, oldest first
_RATING = {r.value: r for r in Rating}  # a dict lookup: Rating(r) per point is measurable on landing


@dataclass(frozen=True)
class AlertState:
    alert_id: int
    state: str
    since_period: str


@dataclass(frozen=True)
class AlertRow:
    """An alert as it is after the return: `alert_id` None means a new row."""

    rule_id: str
    subject: str
    team: str | None
    state: str
    period: str  # the latest rated period
    value: float
    since_period: str
    alert_id: int | None = None


@dataclass(frozen=True)
class Decision:
    created: tuple[AlertRow, ...]
    updated: tuple[AlertRow, ...]
    moves: tuple[Move, ...]

    @property
    def moved_or_new(self) -> set[Key]:
        """Keys whose alert row is new or changes state: the ones a `since` or a message is made for."""
        return {(a.rule_id, a.subject) for a in self.created} | {(m.rule_id, m.subject) for m in self.moves}


def decide(teams: Mapping[Key, str | None], alerts: Mapping[Key, AlertState],
           series: Mapping[Key, Sequence[Point]], for_periods: Mapping[str, int]) -> Decision:
    """`teams`: each rated key -> its team. A key whose series is empty is left alone."""
    created, updated, moves = [], [], []
    for key in sorted(teams):
        points = series.get(key)
        if not points:
            continue
        rule_id, subject = key
        rated = [(p, _RATING[r]) for p, r, _ in points]
        latest_period, _, latest_value = points[-1]
        alert = alerts.get(key)
        current = _RATING[alert.state] if alert else None
        new, change = next_state(current, rated, for_periods.get(rule_id, 1))
        assert new is not None  # a non-empty series always gives a state
        since = state_since(rated, new) if alert is None or change is not None else alert.since_period
        row = AlertRow(rule_id, subject, teams[key], new.value, latest_period, latest_value, since,
                       alert.alert_id if alert else None)
        (created if alert is None else updated).append(row)
        if change is not None:
            moves.append(Move(rule_id, subject, teams[key], change.from_state.value if change.from_state else None,
                              change.to_state.value, change.kind, latest_period, latest_value))
    return Decision(tuple(created), tuple(updated), tuple(moves))


STATE_CHANGES = ("opened", "escalated", "deescalated", "resolved")  # the events a message announces


@dataclass(frozen=True)
class Correction:
    """A restatement changed a period's rating that an earlier message announced, and the alert
    did not move (a newer period holds its state): the message must still withdraw the rating.
    Recorded as an alert event of kind `corrected` (from: the rating announced, to: the new one)."""

    rule_id: str
    subject: str
    team: str | None
    period: str
    from_state: str
    to_state: str
    value: float
    alert_id: int
    alert_state: str  # the alert's state, unchanged


def corrections(earlier: Mapping[tuple[str, str, str], str | None], rated: Mapping[tuple[str, str, str], tuple],
                moved: set[Key], alerts: Mapping[Key, AlertState],
                announced: set[tuple[int, str, str]]) -> list[Correction]:
    """`earlier`: (rule, subject, period) -> the rating the restatement replaces; `rated`: the same
    keys -> (value, new rating, team); `moved`: keys whose alert moves on this return (their
    message says the correction already); `announced`: (alert id, period, rating) that an
    earlier transition named. A rating corrected to no rating (a blank) is the not-reported
    list's matter, not a correction."""
    out = []
    for (rule_id, subject, period), (value, rating, team) in sorted(rated.items()):
        was = earlier.get((rule_id, subject, period))
        alert = alerts.get((rule_id, subject))
        if (rating is None or was is None or was == rating or (rule_id, subject) in moved or alert is None
                or (alert.alert_id, period, was) not in announced):
            continue
        out.append(Correction(rule_id, subject, team, period, was, rating, value, alert.alert_id, alert.state))
    return out


def settled(points: Sequence[Point], start: str) -> bool:
    """Whether `points`, every rated period from `start` on, are enough for a new or moving
    alert: the runs that give its `since` and its months outside green begin after `start`
    (so a missing or other month before them is in view), and the previous rated period (for
    the message) is in view. Otherwise the older periods must be read too."""
    if len(points) < 2:
        return False
    rated = [(p, r) for p, r, _ in points]
    first = min(outside_green(rated)[0] or points[-1][0], state_since(rated, rated[-1][1]))
    return first > start
