"""A `Change`: one alert event with everything a message about it needs. Plain data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerts.lifecycle import outside_green
from rules.catalog import Catalog
from rules.vocabulary import SEVERITY

IMPROVING = ("deescalated", "resolved")


@dataclass(frozen=True)
class Change:
    event_id: int
    rule_id: str
    indicator: str
    code: str | None
    name: str
    unit: str
    tags: tuple[str, ...]
    provider: str
    subject: str
    team: str | None
    kind: str  # opened | escalated | deescalated | resolved | reminder | corrected
    from_state: str | None
    to_state: str
    period: str
    value: float
    return_id: int | None
    thresholds: dict[str, str] = field(default_factory=dict)
    previous_period: str | None = None
    previous_value: float | None = None
    previous_rating: str | None = None
    outside_green_since: str | None = None  # first period of the current non-green run
    months_outside_green: int = 0
    comparators: tuple[tuple[str, float, str | None], ...] = ()
    not_reported: tuple[tuple[str | None, str], ...] = ()  # (code, name): KPIs the change's return left blank
    return_kind: str = "kpi"  # the rule's kind: kpi | finance | caseload
    scope: str = "provider"  # the rule's scope: provider | team | worker
    # A restatement: the earlier return whose rating of this (rule, subject, period) the change's
    # return replaces, when it arrived, and what it said (None: the earlier return had no rating here).
    restates_return_id: int | None = None
    restates_received: dt.datetime | None = None
    superseded_value: float | None = None
    superseded_rating: str | None = None
    # Finance: the rated value is a percentage of `share_of` (a measure's name); `amount` is the
    # money behind it (name, pounds; None when the period's values were not given) and `money`
    # the other amounts of the period, in pounds.
    share_of: str | None = None
    amount: tuple[str, float | None] | None = None
    money: tuple[tuple[str, float], ...] = ()
    # reminders only: the first period of the red run, the newest period the provider's returns
    # of the rule's kind have reached, and the latest acknowledgement as (by, local date, note)
    red_since: str | None = None
    newest_period: str | None = None
    acknowledged: tuple[str, str, str | None] | None = None
    # reminders only: the next return of the rule's kind the provider owes, by the expected-returns
    # calendar: its period, due day and state on the reminder's day (upcoming: the due day is
    # ahead; due: passed, within the grace; missing: the calendar's missing)
    next_period: str | None = None
    next_due: dt.date | None = None
    next_state: str | None = None
    # corrected only (a restatement changed an announced rating, the alert did not move): the
    # alert's state, unchanged, and the latest period it stands on
    alert_state: str | None = None
    alert_period: str | None = None
    # the expected-returns calendar's alerts (return_overdue_<kind>) only: the return's kind, the
    # deadline of `period` (due, and the last day of grace), the first period missing; `batch`
    # groups one check's changes into one message per subscriber and channel
    overdue_kind: str | None = None
    due: dt.date | None = None
    missing_after: dt.date | None = None
    missing_since: str | None = None
    batch: str | None = None
    # the change's return was held with queries and released when its hold hours passed,
    # never confirmed by its sender: every message about it says so
    unconfirmed: bool = False

    @property
    def restated(self) -> bool:
        return self.restates_return_id is not None

    @property
    def withdrawn(self) -> str | None:
        """The earlier rating this correction withdraws (it no longer holds), if any."""
        if self.restated and self.superseded_rating and self.superseded_rating != self.to_state:
            return self.superseded_rating
        return None

    @property
    def severity(self) -> int:
        """What the change is about: the state it leaves or enters, whichever is worse (a red
        alert resolving or de-escalating to amber is a red matter)."""
        return max(SEVERITY.get(self.from_state or "green", 0), SEVERITY.get(self.to_state or "green", 0))

    @property
    def sort_key(self) -> tuple:
        """Worst first: red before amber, failures before improvements, then by code."""
        code = self.code or self.rule_id
        number = int(code[2:]) if code[:2].upper() == "PI" and code[2:].isdigit() else 999
        return (-SEVERITY.get(self.to_state, 0), self.kind in IMPROVING, number, code, self.subject)


@dataclass(frozen=True)
class Superseded:
    """What a restatement replaces for one (rule, subject, period): the earlier return, when it
    arrived, and its value and rating there (None when it had no rating there)."""

    return_id: int
    received: dt.datetime | None = None
    value: float | None = None
    rating: str | None = None


def build_change(catalog: Catalog, event: dict, series: Sequence[tuple[str, str, float]],
                 thresholds: dict[str, str] | None, not_reported: tuple[tuple[str | None, str], ...] = (),
                 *, measures: Mapping[str, float | None] | None = None, superseded: Superseded | None = None,
                 unconfirmed: bool = False) -> Change:
    """`event`: an alert_events row as a dict (with id); `series`: (period, rating, value) up to
    and including the event's period, oldest first; `measures`: the period's reported and derived
    values (a finance rule's amounts come from them); `superseded`: what a restatement replaces;
    `unconfirmed`: its return was released unconfirmed (its hold hours passed)."""
    bound = catalog.rules_by_id.get(event["rule_id"])
    rule = bound.rule if bound else None
    before = [p for p in series if p[0] < event["period"]]
    prev = before[-1] if before else None
    upto = [p for p in series if p[0] <= event["period"]]
    since, months = outside_green([(p[0], p[1]) for p in upto])
    share_of, amount, money = None, None, ()
    if rule is not None and rule.amount is not None:
        names = catalog.measures
        values = measures or {}
        share_of = names[rule.amount.of].name if rule.amount.of in names else rule.amount.of
        pounds = values.get(rule.amount.measure)
        amount = (names[rule.amount.measure].name if rule.amount.measure in names else rule.amount.measure,
                  None if pounds is None else float(pounds))
        money = tuple((names[k].name if k in names else k, float(values[k]))  # type: ignore[arg-type]
                      for k in (rule.amount.of, *rule.amount.also) if values.get(k) is not None)
    return Change(
        event_id=event["id"], rule_id=event["rule_id"], indicator=rule.measure_key if rule else event["rule_id"],
        code=bound.code if bound else None, name=rule.name if rule else event["rule_id"],
        unit=rule.unit if rule else "number", tags=tuple(rule.tags) if rule else (),
        provider=event["provider"], subject=event["subject"], team=event.get("team"), kind=event["kind"],
        from_state=event["from_state"], to_state=event["to_state"], period=event["period"], value=event["value"],
        return_id=event.get("return_id"), thresholds=thresholds or {},
        previous_period=prev[0] if prev else None, previous_rating=prev[1] if prev else None,
        previous_value=prev[2] if prev else None, outside_green_since=since, months_outside_green=months,
        comparators=tuple((c.name, c.value, c.as_of) for c in rule.comparators) if rule else (),
        not_reported=not_reported, return_kind=rule.kind if rule else "kpi", scope=rule.scope if rule else "provider",
        restates_return_id=superseded.return_id if superseded else None,
        restates_received=superseded.received if superseded else None,
        superseded_value=superseded.value if superseded else None,
        superseded_rating=superseded.rating if superseded else None,
        share_of=share_of, amount=amount, money=money,
        alert_state=event.get("alert_state"), alert_period=event.get("alert_period"),
        overdue_kind=rule.kind if rule is not None and rule.rated_by == "calendar" else None,
        unconfirmed=unconfirmed,
    )
