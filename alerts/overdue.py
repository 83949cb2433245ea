"""Missing returns as alerts: which `return_overdue_<kind>` alerts open, move or resolve. Pure.

The alert of (return_overdue_<kind>, provider) is rated on the number of that provider's
returns of the kind that are missing (rules/calendar.py), against its calendar rule's bands
(the shipped pack: red above 0). Its period is the latest missing period and its
`since_period` the first. Nothing missing resolves it. An alert already in the state the count
gives makes no event (running the check twice opens nothing twice); only its row follows the
periods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rules.bands import rate
from rules.catalog import BoundRule
from rules.model import Rating
from rules.vocabulary import SEVERITY


@dataclass(frozen=True)
class OverdueAlert:
    alert_id: int
    state: str
    period: str
    since_period: str
    value: float


@dataclass(frozen=True)
class OverdueMove:
    rule_id: str
    provider: str
    kind: str
    event: str | None  # opened | escalated | deescalated | resolved; None: the row changes, no event
    from_state: str | None
    to_state: str
    period: str  # the latest missing period (for a resolution: the alert's period)
    since_period: str
    value: float  # the number of returns missing
    alert_id: int | None  # None: a new alert row


def rating_of(rule: BoundRule, missing: int) -> str:
    """The state `missing` returns give: the calendar rule's bands (its first version)."""
    bands = next((v.bands for v in rule.rule.versions if v.bands is not None), None)
    if bands is None:
        return Rating.RED.value if missing else Rating.GREEN.value
    return rate(float(missing), bands).value


def overdue_moves(missing: Mapping[tuple[str, str], list[str]], alerts: Mapping[tuple[str, str], OverdueAlert],
                  rules: Mapping[str, BoundRule], keys: Iterable[tuple[str, str]]) -> list[OverdueMove]:
    """`missing`: (provider, kind) -> its missing periods, oldest first; `alerts`: (rule id,
    provider) -> the alert as stored; `rules`: kind -> its calendar rule; `keys`: the (provider,
    kind) pairs the calendar was worked out for (others are left alone)."""
    out = []
    for provider, kind in sorted(set(keys)):
        rule = rules.get(kind)
        if rule is None:
            continue
        periods = missing.get((provider, kind), [])
        alert = alerts.get((rule.id, provider))
        current = alert.state if alert else None
        target = rating_of(rule, len(periods))
        if not periods:
            if alert is not None and current != "green":
                out.append(OverdueMove(rule.id, provider, kind, "resolved", current, "green", alert.period,
                                       alert.period, 0.0, alert.alert_id))
            continue
        period, since, value = periods[-1], periods[0], float(len(periods))
        if current in (None, "green"):
            event = None if target == "green" else "opened"
        elif target == current:
            event = None
        elif target == "green":
            event = "resolved"
        else:
            event = "escalated" if SEVERITY[target] > SEVERITY[current] else "deescalated"
        if event is None and alert is not None and (alert.period, alert.since_period, alert.value) == (
                period, since, value) and current == target:
            continue  # nothing changed at all
        if event is None and alert is None and target == "green":
            continue
        out.append(OverdueMove(rule.id, provider, kind, event, current, target, period, since, value,
                               alert.alert_id if alert else None))
    return out
