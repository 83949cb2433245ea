"""A subscriber's week, composed from data loaded once for everyone. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from alerts.digest.weeks import week_days
from alerts.lifecycle import outside_green
from alerts.notify.route import Route
from rules import vocabulary
from rules.periods import period_index
from rules.vocabulary import SEVERITY

TREND_PERIODS = 12
DIGEST = "digest"  # a Route's delivery that takes the weekly digest ("both" takes it too)
FY_START_MONTH = 4  # the UK financial year runs April to March
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def position_sentence(counts: Counter | dict, noun: str = "KPIs") -> str:
    """The trust's own wording (rules/vocabulary.py): '10 KPIs on target, 5 within tolerance,
    none in failure' ('1 KPI on target', 'no KPIs on target' where the count leads)."""
    return vocabulary.position(counts, noun.removesuffix("s"))


AREAS = (("finance", "finance"), ("caseloads", "caseloads"))  # (tag, what a headline calls it)


def area_of(row: Row) -> str | None:
    """What a provider-level row counts towards: 'KPIs' (a contract KPI, with a code), 'finance'
    or 'caseloads'; None for a team's or worker's row, or anything else."""
    if row.subject != row.provider:
        return None
    for tag, name in AREAS:
        if tag in row.tags:
            return name
    return "KPIs" if row.code else None


def standing(rows: Iterable[Row]) -> str | None:
    """What a set of rows' latest ratings say, each area counted apart so the words never
    contradict the rows: '10 KPIs on target, 5 within tolerance, none in failure; finance: 2 in
    failure' (an area other than the KPIs says only the bands it has, worst first). None when
    nothing is rated."""
    counts: dict[str, Counter] = {}
    for r in rows:
        area = area_of(r)
        if area is not None and r.latest.rating in vocabulary.STATUS:
            counts.setdefault(area, Counter())[r.latest.rating] += 1
    parts = [position_sentence(counts["KPIs"])] if "KPIs" in counts else []
    for _, area in AREAS:
        if area in counts:
            bands = [f"{counts[area][b]} {vocabulary.STATUS[b]}" for b in reversed(vocabulary.RATINGS)
                     if counts[area][b]]
            parts.append(f"{area}: {', '.join(bands)}")
    return "; ".join(parts) or None


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


def financial_year(period: str) -> tuple[str, str]:
    """The UK financial year holding `period`: (its first period, its label), e.g. '2025-02'
    -> ('2024-04', '2024-25')."""
    year, month = int(period[:4]), int(period[5:7])
    start = year if month >= FY_START_MONTH else year - 1
    return f"{start:04d}-{FY_START_MONTH:02d}", f"{start}-{(start + 1) % 100:02d}"


def month_name(period: str) -> str:
    """'2025-02' -> 'Feb'."""
    return MONTHS[int(period[5:7]) - 1]


@dataclass(frozen=True)
class YearToDate:
    """One KPI's financial year so far: the months from April to its latest period, and how
    many of them were rated green, amber and red (a month without a rating: not reported)."""

    year: str  # '2024-25'
    first: str  # '2024-04'
    last: str  # the KPI's latest period
    months: int  # April to `last`, inclusive
    green: int
    amber: int
    red: int

    @property
    def not_reported(self) -> int:
        return self.months - self.green - self.amber - self.red

    @property
    def sentence(self) -> str:
        """'2024-25 to date (Apr–Feb): 7 of 11 months on target, 3 within tolerance, 1 in failure'
        (a month without a rating: 'not reported')."""
        span = month_name(self.first) if self.months == 1 else f"{month_name(self.first)}–{month_name(self.last)}"
        gap = f", {self.not_reported} not reported" if self.not_reported else ""
        return (f"{self.year} to date ({span}): {self.green} of {self.months} month{'s' if self.months != 1 else ''} "
                f"on target, {self.amber} within tolerance, {self.red} in failure{gap}")


def year_to_date(series: tuple[Point, ...]) -> YearToDate | None:
    """The financial year of the series' latest period, up to it (None for an empty series)."""
    if not series:
        return None
    last = series[-1].period
    first, label = financial_year(last)
    bands = Counter(p.rating for p in series if first <= p.period <= last)
    return YearToDate(label, first, last, period_index(last) - period_index(first) + 1,
                      bands["green"], bands["amber"], bands["red"])


def as_of_period(as_of: str | None) -> str:
    """A comparator's date as a sortable period: '2024-03' as is, 'FY2020-21' its March
    ('2021-03'); undated ones sort first (the pack's oldest source)."""
    if not as_of:
        return ""
    if as_of.upper().startswith("FY") and len(as_of) >= 6 and as_of[2:6].isdigit():
        return f"{int(as_of[2:6]) + 1:04d}-03"
    return as_of


@dataclass(frozen=True)
class Comparison:
    """A pack comparator of a KPI: statistical neighbours, England, a region."""

    name: str
    value: float
    as_of: str | None = None

    @property
    def label(self) -> str:
        return vocabulary.comparator_name(self.name)


def latest_comparators(comparators: Iterable[tuple[str, float, str | None]]) -> tuple[Comparison, ...]:
    """The newest figure of each comparator the pack gives (statistical neighbours first, then
    England, then the rest in the pack's order): a pack lists older figures beside newer ones."""
    newest: dict[str, tuple[str, int, Comparison]] = {}
    for i, (name, value, as_of) in enumerate(comparators):
        key = (as_of_period(as_of), i, Comparison(name, value, as_of))
        if name not in newest or key[:2] > newest[name][:2]:
            newest[name] = key
    order = list(vocabulary.COMPARATOR_NAMES)
    names = sorted(newest, key=lambda n: (order.index(n) if n in order else len(order), newest[n][1]))
    return tuple(newest[n][2] for n in names)


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
    comparators: tuple[Comparison, ...] = ()  # the newest of each (latest_comparators)

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

    @property
    def year_to_date(self) -> YearToDate | None:
        """Months in each band so far in the financial year of the latest period. The
        year-to-date position is the latest value (no pack marks a KPI as cumulative)."""
        return year_to_date(self.series)


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
    def words(self) -> str:
        """'in failure (was within tolerance)', 'back on target (was in failure)' (rules/vocabulary.py)."""
        return vocabulary.change(self.kind, self.to_state) + vocabulary.was(self.from_state)

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
    """A provider's newest missing return of one kind (rules/calendar.py), and how many older
    ones of the kind are missing too."""

    provider: str
    period: str
    due: dt.date
    kind: str = "kpi"
    earlier: int = 0

    @property
    def kind_name(self) -> str:
        return vocabulary.kind_name(self.kind)


@dataclass(frozen=True)
class FinanceMonth:
    """The forecast position one finance return gave."""

    period: str
    forecast_outturn: float
    funding: float  # contract sum + other income
    overspend: float  # negative: an underspend
    overspend_pct: float
    rating: str | None

    @property
    def month(self) -> str:
        return month_name(self.period)


@dataclass(frozen=True)
class FinancePosition:
    provider: str
    period: str
    forecast_outturn: float
    funding: float  # contract sum + other income
    overspend: float
    overspend_pct: float
    rating: str | None
    ack: Ack | None = None  # of the forecast alert
    months: tuple[FinanceMonth, ...] = ()  # this financial year's returns up to `period`, oldest first

    @property
    def year(self) -> str:
        return financial_year(self.period)[1]


@dataclass(frozen=True)
class NotReported:
    """A contract KPI the newest KPI return of its provider left blank (or out), shaped so a
    Route can decide whether a subscriber covers it."""

    rule_id: str
    indicator: str
    code: str | None
    name: str
    tags: tuple[str, ...]
    provider: str
    period: str  # the newest return's period
    last: str | None = None  # the last period it was rated, if ever
    team: str | None = None

    @property
    def subject(self) -> str:
        return self.provider


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
    not_reported: tuple[NotReported, ...] = ()  # every provider's newest KPI return's blanks
    cadence: str = "weekly"  # or "monthly": events and returns since the last monthly digest
    days: tuple[dt.date, dt.date] | None = None  # the calendar days covered (None: the week's)

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
    not_reported: list[NotReported] = field(default_factory=list)  # KPIs the provider's newest return left blank
    newest_period: str | None = None  # the newest KPI period the digest shows
    newest_by_provider: dict[str, str] = field(default_factory=dict)
    events_total: int = 0  # the week's events for them; `events` may show fewer (the same cap)
    not_reported_total: int = 0  # `not_reported` may show fewer (the same cap)
    finance_total: int = 0  # providers' finance positions; `finance_positions` may show fewer
    cadence: str = "weekly"  # or "monthly"
    covered_days: tuple[dt.date, dt.date] | None = None  # None: the week's seven days

    @property
    def hidden(self) -> int:
        return max(0, self.kpi_total - len(self.kpis))

    @property
    def hidden_not_reported(self) -> int:
        return max(0, self.not_reported_total - len(self.not_reported))

    @property
    def not_reported_providers(self) -> int:
        return len({n.provider for n in self.not_reported})

    @property
    def hidden_finance(self) -> int:
        return max(0, self.finance_total - len(self.finance_positions))

    @property
    def monthly(self) -> bool:
        return self.cadence == "monthly"

    @property
    def span(self) -> str:
        """What one digest covers, in words: 'week' or 'month'."""
        return "month" if self.monthly else "week"

    @property
    def days(self) -> tuple[dt.date, dt.date]:
        """The first and last day the digest covers, as calendar days: the seven days before the
        ISO week's Monday, whatever the clocks do (start and end are UTC instants); a monthly
        digest, the days since the last monthly digest."""
        return self.covered_days or week_days(self.week)

    @property
    def hidden_events(self) -> int:
        return max(0, self.events_total - len(self.events))

    @property
    def position(self) -> str:
        """'10 KPIs on target, 5 within tolerance, none in failure' (every indicator counted)."""
        return position_sentence(self.counts)

    @property
    def standing(self) -> str:
        """The KPIs' position, then finance and caseloads counted apart: '10 KPIs on target, 5
        within tolerance, none in failure; finance: 2 in failure'."""
        others = standing([*self.finance, *(r for r in self.caseloads if r.subject == r.provider)])
        if not self.kpi_total and others:  # a finance or caseloads digest: no 'no KPIs on target'
            return others[:1].upper() + others[1:]
        return self.position + (f"; {others}" if others else "")

    @property
    def overdue_shown(self) -> list[Overdue]:
        """The overdue returns of the kinds this digest shows (the expected-returns calendar at
        the cut-off: due day and grace passed, nothing landed)."""
        kinds = {k for k, shown in (("kpi", self.kpis), ("finance", self.finance), ("caseload", self.caseloads))
                 if shown}
        return [o for o in self.overdue if o.kind in kinds]

    @property
    def returns_overdue(self) -> int:
        return sum(1 + o.earlier for o in self.overdue_shown)

    @property
    def stale(self) -> str | None:
        """'9 returns overdue by the returns calendar (latest KPI data 2025-03)', or None: only
        when the calendar, as it stood at the digest's cut-off, says a return is missing."""
        n = self.returns_overdue
        if not n:
            return None
        latest = f" (latest KPI data {self.newest_period})" if self.newest_period else ""
        return f"{n} return{'s' if n != 1 else ''} overdue by the returns calendar{latest}"

    @property
    def no_data(self) -> bool:
        """Nothing rated to show: no return for the subscriber's indicators had landed by the
        cut-off (a new service, a new subscription). Not 'no KPIs on target, none in failure'."""
        return not (self.kpis or self.finance or self.caseloads)

    @property
    def headline(self) -> str:
        """The position (finance and caseloads counted apart), and when the calendar says returns
        are overdue, the period it stands at and that: an old position is never headlined as the
        current one, and a return not yet due is never called overdue."""
        if self.no_data:
            last = self.days[-1]
            return f"No data yet: no return for your indicators had landed by {last:%a} {last.day} {last:%b %Y}"
        if self.stale:
            at = f" at {self.newest_period}" if self.newest_period else ""
            return f"Position{at}: {self.standing}. {self.stale[:1].upper()}{self.stale[1:]}"
        return self.standing

    @property
    def subject_counts(self) -> Counter:
        """Every provider-level indicator the digest shows (KPIs, finance, the trust's average
        caseload) by rating: what a subject counts."""
        others = [r for r in (*self.finance, *self.caseloads) if area_of(r) in ("finance", "caseloads")]
        return Counter(self.counts) + Counter(r.latest.rating for r in others if r.latest.rating)

    @property
    def change_since_last_week(self) -> str | None:
        """Against the last digest's counts (last week's, or last month's for a monthly one):
        '+1 in failure, -1 within tolerance', or 'no change'."""
        if self.previous_counts is None:
            return None
        parts = []
        for band in reversed(vocabulary.RATINGS):
            delta = self.counts.get(band, 0) - int(self.previous_counts.get(band, 0))
            if delta:
                parts.append(f"{delta:+d} {vocabulary.STATUS[band]}")
        return ", ".join(parts) if parts else "no change"

    @property
    def since_last(self) -> str | None:
        """The one sentence comparing with the last digest: 'Since last week's digest: +1 in
        failure, -1 within tolerance.' or 'No change since last week's digest.'"""
        change = self.change_since_last_week
        if change is None:
            return None
        if change == "no change":
            return f"No change since last {self.span}'s digest."
        return f"Since last {self.span}'s digest: {change}."

    @property
    def empty(self) -> bool:
        """No return landed and nothing changed this week (this month, for a monthly digest): a
        subscriber who opted out of empty digests gets none (even with alerts still in failure: the
        last digest said so)."""
        return not self.events and not self.returns

    @property
    def steady(self) -> bool:
        """Nothing changed this week and nothing is red: the short 'all steady' digest."""
        red = any(r.latest.rating == "red" for r in (*self.kpis, *self.finance, *self.caseloads))
        return not self.events and not red and not self.no_data


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


def code_order(code: str | None) -> int:
    """PI2 before PI10; no code last."""
    return int(code[2:]) if code and code[2:].isdigit() else 99


def select_not_reported(items: list[NotReported], cap: int) -> list[NotReported]:
    """At most `cap` (0: all), by provider and code (153 providers' blanks would fill an email)."""
    items = sorted(items, key=lambda n: (n.provider, code_order(n.code), n.rule_id))
    return items[:cap] if cap else items


def select_finance(positions: list[FinancePosition], cap: int) -> list[FinancePosition]:
    """At most `cap` providers' finance positions (0: all), red first, then amber, then the
    rest; shown by provider."""
    if not cap or len(positions) <= cap:
        return positions
    worst = sorted(positions, key=lambda f: (-SEVERITY.get(f.rating or "", -1), f.provider))[:cap]
    return sorted(worst, key=lambda f: f.provider)


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
    kpis.sort(key=lambda r: (r.provider, code_order(r.code), r.subject))
    newest: dict[str, str] = {}
    for r in kpis:
        newest[r.provider] = max(newest.get(r.provider, r.latest.period), r.latest.period)
    providers = {r.provider for r in mine} | {p for rt in routes for p in rt.providers}
    blanks = [n for n in week.not_reported if any(rt.covers(n) for rt in routes)]  # type: ignore[arg-type]
    positions = [f for f in week.finance if any(r.provider == f.provider for r in finance)]
    return DigestModel(
        subscriber=subscriber, week=week.week, start=week.start, end=week.end, kpis=select_rows(kpis, max_rows),
        kpi_total=len(kpis), finance=finance, not_reported=select_not_reported(blanks, max_rows),
        not_reported_total=len(blanks),
        newest_period=max(newest.values(), default=None), newest_by_provider=newest,
        caseloads=caseloads, events=select_events(sorted(events, key=lambda e: (e.at, -e.severity)), max_rows),
        events_total=len(events),
        returns=[r for r in week.returns if r.provider in providers],
        overdue=[o for o in week.overdue if o.provider in providers],
        finance_positions=select_finance(positions, max_rows), finance_total=len(positions),
        counts=Counter(r.latest.rating for r in kpis if r.latest.rating), previous_counts=previous_counts,
        cadence=week.cadence, covered_days=week.days,
    )
