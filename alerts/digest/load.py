"""Load a week's digest data once for all subscribers (reads in alerts.store.digests), and
keep it while the database holds nothing newer."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace

from sqlmodel import Session

from alerts.digest.compose import (
    Ack,
    FinanceMonth,
    FinancePosition,
    LandedReturn,
    NotReported,
    Overdue,
    Point,
    Row,
    WeekData,
    WeekEvent,
    financial_year,
    latest_comparators,
)
from alerts.digest.weeks import monthly_days, monthly_window, window
from alerts.notify.route import ALL_TRANSITIONS
from alerts.store import digests as store
from alerts.store import expected as expected_store
from alerts.usecases.evaluate import unreported
from rules.calendar import Landed, calendar, local_day, missing_periods
from rules.catalog import Catalog
from rules.evaluate import derive
from rules.periods import period_start


def load_week(session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime | None = None
              ) -> WeekData:
    start, end = window(week, timezone)
    cutoff = min(as_of, end) if as_of else end  # what was known when the digest went out
    landed = store.returns_before(session, cutoff)
    rated = [(i, provider, kind, periods) for i, provider, kind, periods, at in landed if at and at < cutoff]
    holder = {(provider, kind, p): i for i, provider, kind, periods in rated for p in periods.split(",")}
    latest: dict[tuple[str, str, str], tuple] = {}
    for row in store.ratings_before(session, cutoff):
        if holder.get((row.provider, row.kind, row.period), row.return_id) != row.return_id:
            continue  # superseded by a restatement of its period, which may have left this one out
        latest[(row.rule_id, row.subject, row.period)] = tuple(row)
    series: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for (rule_id, subject, _period), row in sorted(latest.items(), key=lambda kv: kv[0][2]):
        series[(rule_id, subject)].append(row)
    acks = {(rule_id, subject): Ack(at, by, note)
            for rule_id, subject, at, by, note in store.acknowledgements_before(session, cutoff)}  # the latest wins
    rows = []
    comparators: dict[str, tuple] = {}  # per rule, not per row (a national week has 2,295 rows)
    for (rule_id, subject), points in series.items():
        bound = catalog.rules_by_id.get(rule_id)
        if bound is None:
            continue
        if rule_id not in comparators:
            comparators[rule_id] = latest_comparators((c.name, c.value, c.as_of) for c in bound.rule.comparators)
        last = points[-1]
        rows.append(Row(rule_id=rule_id, indicator=bound.rule.measure_key, code=bound.code, name=bound.rule.name,
                        unit=bound.rule.unit, polarity=bound.rule.polarity, tags=tuple(bound.rule.tags),
                        provider=last[2], subject=subject, team=last[3], thresholds=last[7] or {},
                        series=tuple(Point(p[4], p[5], p[6]) for p in points), ack=acks.get((rule_id, subject)),
                        comparators=comparators[rule_id]))
    events, returns = happenings(session, catalog, start, cutoff)
    finance = [position for r in rows if r.rule_id == "forecast_overspend_pct"
               and (position := finance_of(session, catalog, r)) is not None]
    kpi_rated = [(i, provider, periods) for i, provider, kind, periods in rated if kind == "kpi"]
    return WeekData(week, start, end, tuple(rows), events, returns,
                    tuple(overdue_returns(catalog, landed_before(session, cutoff), cutoff, timezone)), tuple(finance),
                    tuple(not_reported(session, catalog, kpi_rated, rows)))


def load_period(session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime | None = None,
                cadence: str = "weekly", weekday: int = 0, weekly: WeekData | None = None) -> WeekData:
    """The data of week W's digest for a cadence: `load_week` for a weekly one; for a monthly
    one the same position (ratings, finance, blanks, overdue, as of the same moment) with the
    events and returns since the last monthly digest. `weekly`: the week's data, already loaded."""
    data = weekly or load_week(session, catalog, week, timezone, as_of)
    if cadence != "monthly":
        return data
    start, end = monthly_window(week, weekday, timezone)
    cutoff = min(as_of, end) if as_of else end
    events, returns = happenings(session, catalog, start, cutoff)
    return replace(data, start=start, events=events, returns=returns, cadence="monthly",
                   days=monthly_days(week, weekday))


def happenings(session: Session, catalog: Catalog, start: dt.datetime, cutoff: dt.datetime
               ) -> tuple[tuple[WeekEvent, ...], tuple[LandedReturn, ...]]:
    """The alert events and the returns of [start, cutoff)."""
    events = []
    for e in store.events_between(session, start, cutoff, ALL_TRANSITIONS):
        bound = catalog.rules_by_id.get(e["rule_id"])
        events.append(WeekEvent(**e, indicator=bound.rule.measure_key if bound else e["rule_id"],
                                code=bound.code if bound else None, name=bound.rule.name if bound else e["rule_id"],
                                tags=tuple(bound.rule.tags) if bound else (),
                                unit=bound.rule.unit if bound else "number"))
    return tuple(events), tuple(LandedReturn(*r) for r in store.returns_between(session, start, cutoff))


def finance_of(session: Session, catalog: Catalog, forecast: Row) -> FinancePosition | None:
    """A provider's forecast position at its latest finance period, with the months of that
    financial year before it (the trend), from its finance observations."""
    first, _ = financial_year(forecast.latest.period)
    ratings = {p.period: p.rating for p in forecast.series}
    periods = [p.period for p in forecast.series if first <= p.period <= forecast.latest.period]
    values = store.finance_values_by_period(session, forecast.provider, periods)
    months = tuple(FinanceMonth(period, *position, ratings.get(period)) for period in periods
                   if (position := finance_position(catalog, forecast.provider, values.get(period, {}))))
    latest = months[-1] if months and months[-1].period == forecast.latest.period else None
    if latest is None:
        return None
    return FinancePosition(forecast.provider, latest.period, latest.forecast_outturn, latest.funding,
                           latest.overspend, latest.overspend_pct, forecast.latest.rating, forecast.ack, months)


def not_reported(session: Session, catalog: Catalog, kpi_returns: list[tuple[int, str, str]], rows: list[Row]
                 ) -> list[NotReported]:
    """Per provider, the contract KPIs its newest KPI return left blank or out, exactly as
    `ingest` reports them (alerts.usecases.evaluate.unreported): the rated return that holds
    the provider's newest KPI period (the latest of them if it was restated). Only rules of the
    suite in force for that period, with a contract code; inputs and derived rates never.
    `kpi_returns`: (id, provider, periods) of the rated KPI returns, oldest first."""
    newest: dict[str, tuple[str, int]] = {}  # provider -> (newest period, the latest return holding it)
    for return_id, provider, periods in kpi_returns:  # oldest first
        top = max(periods.split(","))
        if provider not in newest or top >= newest[provider][0]:
            newest[provider] = (top, return_id)
    series = {(r.rule_id, r.provider): r.series for r in rows if r.subject == r.provider}
    out = []
    for provider, (period, return_id) in sorted(newest.items()):
        day = period_start(period)
        rules = {b.rule.measure_key: b for b in catalog.rules if b.code and b.rule.kind == "kpi"
                 and b.pack.in_force(day) and b.pack.applies_to_provider(provider)}
        reported = {(period, m) for m in store.reported_in(session, return_id, period)}
        for key, code, name in unreported(catalog, "kpi", provider, [period], reported):
            bound = rules[key]
            before = [p.period for p in series.get((bound.id, provider), ()) if p.period < period]
            out.append(NotReported(bound.id, key, code, name, tuple(bound.rule.tags), provider, period,
                                   before[-1] if before else None))
    return out


def finance_position(catalog: Catalog, provider: str, values: dict[str, float]
                     ) -> tuple[float, float, float, float] | None:
    """Forecast outturn, funding, overspend in pounds and in percent, from a provider's
    finance observations for one period; None when the return lacks them."""
    v = derive(catalog, "finance", provider, values)
    if not v.get("funding") or v.get("forecast_outturn") is None:
        return None
    return v["forecast_outturn"], v["funding"], v["forecast_overspend"], v["forecast_overspend_pct"]


def landed_before(session: Session, cutoff: dt.datetime) -> dict[tuple[str, str], dict[str, dt.datetime]]:
    """(provider, kind) -> period -> when its first return landed, for the returns landed
    (rated or not: a pending return is not overdue) before `cutoff`."""
    out: dict[tuple[str, str], dict[str, dt.datetime]] = {}
    for key, periods in expected_store.landed(session).items():
        held = {p: at for p, at in periods.items() if at < cutoff}
        if held:
            out[key] = held
    return out


def overdue_returns(catalog: Catalog, landed: Landed, now: dt.datetime, timezone: str) -> list[Overdue]:
    """The returns missing at `now` by the expected-returns calendar (rules/calendar.py: the
    packs' due day and grace passed, nothing landed): per provider and kind the newest one, with
    how many older ones are missing too."""
    today = local_day(now - dt.timedelta(microseconds=1), timezone)  # a cutoff at midnight is the day before's end
    rows = calendar(catalog, landed, today, timezone)
    out = []
    for (provider, kind), periods in sorted(missing_periods(rows).items()):
        due = next(r.due for r in rows if (r.provider, r.kind, r.period) == (provider, kind, periods[-1]))
        out.append(Overdue(provider, periods[-1], due, kind, len(periods) - 1))
    return out


class WeekCache:
    """The last week loaded, kept while the database holds nothing newer: a worker plans one
    chunk of 500 subscribers after another from the same data, and a national year takes about
    0.3 s to load. `renders` travels with it (render_digest's row cache: a row is rendered once).

    The version is the highest id and the row count of each table the week reads; those tables
    are append-only (history is never deleted), and the count catches a row that commits after
    a higher id (PostgreSQL sequences). A digest sent before its week ends reads up to the
    moment it is planned, so it is never served from here."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._catalog: Catalog | None = None
        self._value: tuple[WeekData, dict] | None = None
        self._periods: dict[tuple[str, int], WeekData] = {}  # the monthly digest's, from the week's

    def get(self, session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime,
            cadence: str = "weekly", weekday: int = 0) -> tuple[WeekData, dict]:
        """The week's data as `load_period` gives it for `cadence`, and its render cache (shared
        by both cadences: a monthly digest shows the same rows)."""
        _, end = window(week, timezone)
        if as_of < end:
            return load_period(session, catalog, week, timezone, as_of, cadence, weekday), {}
        key = (str(session.get_bind().url), week, timezone, store.data_version(session))
        if self._value is None or key != self._key or catalog is not self._catalog:
            self._key, self._catalog = key, catalog
            self._value = (load_week(session, catalog, week, timezone, as_of), {})
            self._periods = {}
        weekly, renders = self._value
        if cadence == "weekly":
            return self._value
        if (cadence, weekday) not in self._periods:
            self._periods[(cadence, weekday)] = load_period(session, catalog, week, timezone, as_of, cadence,
                                                            weekday, weekly)
        return self._periods[(cadence, weekday)], renders
