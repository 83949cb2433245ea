"""A subscriber's week, composed from data loaded once for everyone. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from alerts.digest.weeks import parse_week, week_days
from alerts.lifecycle import outside_green
from alerts.notify.changes import SEVERITY
from alerts.notify.route import Route
from rules.periods import period_from_index, period_index

TREND_PERIODS = 12
NOT_REPORTED_WITHIN = 12  # months: an indicator silent for longer has left the suite, not the return
DIGEST = "digest"  # a Route's delivery that takes the weekly digest ("both" takes it too)


def position_sentence(counts: Counter | dict, noun: str = "KPIs") -> str:
    """The trust's own wording: '10 KPIs on target, 5 within tolerance, none in failure'
    ('1 KPI on target', 'no KPIs on target' where the count leads)."""
    def n(k: str) -> str:
        return str(counts.get(k, 0)) if counts.get(k, 0) else "none"
    green = counts.get("green", 0)
    lead = f"{green} {noun.removesuffix('s') if green == 1 else noun}" if green else f"no {noun}"
    return f"{lead} on target, {n('amber')} within tolerance, {n('red')} in failure"


@dataclass(frozen=True)
class Point:
    period: str
    value: float
    rating: str | None


@dataclass(frozen=True)
class Ack:
    at: dt.datetime
    by: str | None
    note: str | None


@dataclass(frozen=True)
class Row:
    """The latest rating of one (rule, subject), with its recent series."""

    rule_id: str
    indicator: str
    code: str | None
    name: str
    unit: str
    polarity: str
    tags: tuple[str, ...]
    provider: str
    subject: str
    team: str | None
    thresholds: dict[str, str]
    series: tuple[Point, ...]  # oldest first, the latest last
    ack: Ack | None = None

    @property
    def latest(self) -> Point:
        return self.series[-1]

    @property
    def previous(self) -> Point | None:
        return self.series[-2] if len(self.series) > 1 else None

    @property
    def trend(self) -> tuple[Point, ...]:
        return self.series[-TREND_PERIODS:]

    @property
    def direction(self) -> str:
        """Against the previous period: better, worse, same, or new."""
        prev = self.previous
        if prev is None:
            return "new"
        if self.polarity == "two_sided" or self.latest.value == prev.value:
            a, b = SEVERITY.get(self.latest.rating or "", 0), SEVERITY.get(prev.rating or "", 0)
            return "same" if a == b else ("better" if a < b else "worse")
        up = self.latest.value > prev.value
        return "better" if up == (self.polarity == "higher_is_better") else "worse"

    @property
    def months_outside_green(self) -> int:
        return outside_green([(p.period, p.rating) for p in self.series])[1]


@dataclass(frozen=True)
class WeekEvent:
    """An alert event of the week, shaped so a Route can decide whether it is wanted."""

    at: dt.datetime
    kind: str
    rule_id: str
    indicator: str
    code: str | None
    name: str
    tags: tuple[str, ...]
    provider: str
    subject: str
    team: str | None
    from_state: str | None
    to_state: str
    period: str
    value: float
    unit: str

    @property
    def severity(self) -> int:
        """The state it leaves or enters, whichever is worse (as the notify router counts it)."""
        return max(SEVERITY.get(self.from_state or "green", 0), SEVERITY.get(self.to_state or "green", 0))


@dataclass(frozen=True)
class LandedReturn:
    provider: str
    kind: str
    periods: str
    received_at: dt.datetime
    status: str


@dataclass(frozen=True)
class Overdue:
    provider: str
    period: str
    due: dt.date


@dataclass(frozen=True)
class FinancePosition:
    provider: str
    period: str
    forecast_outturn: float
    funding: float  # contract sum + other income
    overspend: float
    overspend_pct: float
    rating: str | None


@dataclass(frozen=True)
class WeekData:
    """Everything a week's digests need, loaded once."""

    week: str
    start: dt.datetime
    end: dt.datetime
    rows: tuple[Row, ...]
    events: tuple[WeekEvent, ...]
    returns: tuple[LandedReturn, ...]
    overdue: tuple[Overdue, ...]
    finance: tuple[FinancePosition, ...] = ()

    @cached_property
    def _by_provider(self) -> tuple[dict[str, list[Row]], dict[str, list[WeekEvent]]]:
        rows: dict[str, list[Row]] = defaultdict(list)
        events: dict[str, list[WeekEvent]] = defaultdict(list)
        for r in self.rows:
            rows[r.provider].append(r)
        for e in self.events:
            events[e.provider].append(e)
        return rows, events

    def candidates(self, routes: list[Route]) -> tuple[list[Row], list[WeekEvent]]:
        """Rows and events a subscriber could see: only their providers' unless a route names none
        (10,000 digests x 2,295 rows otherwise)."""
        if any(not rt.providers for rt in routes):
            return list(self.rows), list(self.events)
        rows, events = self._by_provider
        providers = sorted({p for rt in routes for p in rt.providers})
        return [r for p in providers for r in rows.get(p, [])], [e for p in providers for e in events.get(p, [])]


@dataclass
class DigestModel:
    subscriber: str
    week: str
    start: dt.datetime
    end: dt.datetime
    kpis: list[Row]
    finance: list[Row]
    caseloads: list[Row]
    events: list[WeekEvent]
    returns: list[LandedReturn]
    overdue: list[Overdue]
    finance_positions: list[FinancePosition] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    previous_counts: dict | None = None
    kpi_total: int = 0  # the subscriber's indicators; `kpis` may show fewer (the row cap)
    not_reported: list[Row] = field(default_factory=list)  # KPIs the provider's newest return left blank
    newest_period: str | None = None  # the newest KPI period the digest shows
    newest_by_provider: dict[str, str] = field(default_factory=dict)
    events_total: int = 0  # the week's events for them; `events` may show fewer (the same cap)

    @property
    def hidden(self) -> int:
        return max(0, self.kpi_total - len(self.kpis))

    @property
    def days(self) -> tuple[dt.date, dt.date]:
        """The first and last day the digest covers, as calendar days: the seven days before the
        ISO week's Monday, whatever the clocks do (start and end are UTC instants)."""
        return week_days(self.week)

    @property
    def hidden_events(self) -> int:
        return max(0, self.events_total - len(self.events))

    @property
    def position(self) -> str:
        """'10 KPIs on target, 5 within tolerance, none in failure' (every indicator counted)."""
        return position_sentence(self.counts)

    @property
    def last_month_due(self) -> str:
        """The month before the week's month (the month of its Thursday, as ISO weeks go)."""
        year, w = parse_week(self.week)
        thursday = dt.date.fromisocalendar(year, w, 4)
        return period_from_index(period_index(f"{thursday.year:04d}-{thursday.month:02d}") - 1)

    @property
    def months_stale(self) -> int:
        """How many months the newest KPI data is older than the last month due (0: current)."""
        if self.newest_period is None:
            return 0
        return max(0, period_index(self.last_month_due) - period_index(self.newest_period))

    @property
    def stale(self) -> str | None:
        """'Latest data: 2025-03 — 20 months old; newer returns are overdue', or None."""
        n = self.months_stale
        if not n:
            return None
        return f"Latest data: {self.newest_period} — {n} month{'s' if n != 1 else ''} old; newer returns are overdue"

    @property
    def headline(self) -> str:
        """The position, or when the newest data is older than the last month due, that first:
        an old position is never headlined as the current one."""
        if self.stale:
            return f"{self.stale}. Position at {self.newest_period}: {self.position}"
        return self.position

    @property
    def change_since_last_week(self) -> str | None:
        if self.previous_counts is None:
            return None
        parts = []
        for band, word in (("green", "on target"), ("amber", "within tolerance"), ("red", "in failure")):
            delta = self.counts.get(band, 0) - int(self.previous_counts.get(band, 0))
            if delta:
                parts.append(f"{delta:+d} {word}")
        return ", ".join(parts) if parts else "no change since last week's digest"

    @property
    def empty(self) -> bool:
        """No return landed and nothing changed this week: a subscriber who opted out of empty
        digests gets none (even with alerts still red: last week's digest said so)."""
        return not self.events and not self.returns

    @property
    def steady(self) -> bool:
        """Nothing changed this week and nothing is red: the short 'all steady' digest."""
        red = any(r.latest.rating == "red" for r in (*self.kpis, *self.finance, *self.caseloads))
        return not self.events and not red


def select_rows(rows: list[Row], cap: int) -> list[Row]:
    """At most `cap` rows (0: all) for the table: red first, then amber, then those whose rating
    changed since the previous period, then the rest; shown in the table's own order. A leader
    following every provider gets a readable email (Gmail clips over 102 KB), not 2,000 rows."""
    if not cap or len(rows) <= cap:
        return rows

    def priority(item: tuple[int, Row]) -> tuple[int, int]:
        i, r = item
        rating, prev = r.latest.rating, r.previous
        changed = prev is not None and prev.rating != rating
        return (0 if rating == "red" else 1 if rating == "amber" else 2 if changed else 3), i

    keep = {i for i, _ in sorted(enumerate(rows), key=priority)[:cap]}
    return [r for i, r in enumerate(rows) if i in keep]


def select_events(events: list[WeekEvent], cap: int) -> list[WeekEvent]:
    """At most `cap` of the week's events (0: all): the most severe, latest first among equals;
    shown in time order. (A year of returns landing in one week makes hundreds.)"""
    if not cap or len(events) <= cap:
        return events
    keep = {i for i, _ in sorted(enumerate(events), key=lambda ie: (-ie[1].severity, -ie[0]))[:cap]}
    return [e for i, e in enumerate(events) if i in keep]


def unreported(kpis: list[Row], newest: dict[str, str]) -> list[Row]:
    """KPI rows whose latest value is older than their provider's newest KPI period: its newest
    return left them blank (or out). Rows silent for over NOT_REPORTED_WITHIN months are left
    out: those are indicators of a suite no longer in force, not gaps in the return."""
    out = []
    for r in kpis:
        gap = period_index(newest[r.provider]) - period_index(r.latest.period)
        if 0 < gap <= NOT_REPORTED_WITHIN:
            out.append(r)
    return out


def routed(routes: list[Route], week: WeekData) -> tuple[list[Row], list[WeekEvent]]:
    """The week's rows and events a subscriber's digest routes take, decided by the notify
    router's own predicates: a row by `Route.covers` (scope), an event by `Route.wants` (scope,
    transition, severity) as a digest delivery."""
    rows, events = week.candidates(routes)
    return ([r for r in rows if any(rt.covers(r) for rt in routes)],  # type: ignore[arg-type]
            [e for e in events if any(rt.wants(e, DIGEST) for rt in routes)])  # type: ignore[arg-type]


def compose(subscriber: str, routes: list[Route], week: WeekData, previous_counts: dict | None,
            max_rows: int = 0) -> DigestModel:
    """`routes`: the subscriber's subscriptions with delivery digest or both; `max_rows`: the
    indicator table's cap (0: none). The headline always counts every indicator."""
    mine, events = routed(routes, week)
    finance = [r for r in mine if "finance" in r.tags]
    caseloads = [r for r in mine if "caseloads" in r.tags and r not in finance
                 and (r.subject == r.provider or r.latest.rating not in (None, "green"))]  # only teams/workers over
    kpis = [r for r in mine if r.code and r not in finance and "caseloads" not in r.tags]
    kpis.sort(key=lambda r: (r.provider, int(r.code[2:]) if r.code and r.code[2:].isdigit() else 99, r.subject))
    newest: dict[str, str] = {}
    for r in kpis:
        newest[r.provider] = max(newest.get(r.provider, r.latest.period), r.latest.period)
    providers = {r.provider for r in mine} | {p for rt in routes for p in rt.providers}
    return DigestModel(
        subscriber=subscriber, week=week.week, start=week.start, end=week.end, kpis=select_rows(kpis, max_rows),
        kpi_total=len(kpis), finance=finance, not_reported=unreported(kpis, newest),
        newest_period=max(newest.values(), default=None), newest_by_provider=newest,
        caseloads=caseloads, events=select_events(sorted(events, key=lambda e: (e.at, -e.severity)), max_rows),
        events_total=len(events),
        returns=[r for r in week.returns if r.provider in providers],
        overdue=[o for o in week.overdue if o.provider in providers],
        finance_positions=[f for f in week.finance if any(r.provider == f.provider for r in finance)],
        counts=Counter(r.latest.rating for r in kpis if r.latest.rating), previous_counts=previous_counts,
    )
