"""Load a week's digest data once for all subscribers (reads in alerts.store.digests), and
keep it while the database holds nothing newer."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.digest.compose import Ack, FinancePosition, LandedReturn, Overdue, Point, Row, WeekData, WeekEvent
from alerts.digest.weeks import window
from alerts.notify.route import ALL_TRANSITIONS
from alerts.store import digests as store
from rules.catalog import Catalog
from rules.evaluate import derive
from rules.periods import period_from_index, period_index


def load_week(session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime | None = None
              ) -> WeekData:
    start, end = window(week, timezone)
    cutoff = min(as_of, end) if as_of else end  # what was known when the digest went out
    latest: dict[tuple[str, str, str], tuple] = {}
    for row in store.ratings_before(session, cutoff):
        latest[(row.rule_id, row.subject, row.period)] = tuple(row)
    series: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for (rule_id, subject, _period), row in sorted(latest.items(), key=lambda kv: kv[0][2]):
        series[(rule_id, subject)].append(row)
    acks = {(rule_id, subject): Ack(at, by, note)
            for rule_id, subject, at, by, note in store.acknowledgements_before(session, cutoff)}  # the latest wins
    rows = []
    for (rule_id, subject), points in series.items():
        bound = catalog.rules_by_id.get(rule_id)
        if bound is None:
            continue
        last = points[-1]
        rows.append(Row(rule_id=rule_id, indicator=bound.rule.measure_key, code=bound.code, name=bound.rule.name,
                        unit=bound.rule.unit, polarity=bound.rule.polarity, tags=tuple(bound.rule.tags),
                        provider=last[2], subject=subject, team=last[3], thresholds=last[7] or {},
                        series=tuple(Point(p[4], p[5], p[6]) for p in points), ack=acks.get((rule_id, subject))))
    events = []
    for e in store.events_between(session, start, cutoff, ALL_TRANSITIONS):
        bound = catalog.rules_by_id.get(e["rule_id"])
        events.append(WeekEvent(**e, indicator=bound.rule.measure_key if bound else e["rule_id"],
                                code=bound.code if bound else None, name=bound.rule.name if bound else e["rule_id"],
                                tags=tuple(bound.rule.tags) if bound else (),
                                unit=bound.rule.unit if bound else "number"))
    returns = [LandedReturn(*r) for r in store.returns_between(session, start, cutoff)]
    finance = [FinancePosition(r.provider, r.latest.period, *position, r.latest.rating) for r in rows
               if r.rule_id == "forecast_overspend_pct"
               and (position := finance_position(catalog, r.provider,
                                                 store.finance_values(session, r.provider, r.latest.period)))]
    return WeekData(week, start, end, tuple(rows), tuple(events), tuple(returns),
                    tuple(overdue_returns(catalog, store.kpi_periods_held(session), cutoff, timezone)),
                    tuple(finance))


def finance_position(catalog: Catalog, provider: str, values: dict[str, float]
                     ) -> tuple[float, float, float, float] | None:
    """Forecast outturn, funding, overspend in pounds and in percent, from a provider's
    finance observations for one period; None when the return lacks them."""
    v = derive(catalog, "finance", provider, values)
    if not v.get("funding") or v.get("forecast_outturn") is None:
        return None
    return v["forecast_outturn"], v["funding"], v["forecast_overspend"], v["forecast_overspend_pct"]


def overdue_returns(catalog: Catalog, held: dict[str, set[str]], now: dt.datetime, timezone: str) -> list[Overdue]:
    """A provider's KPI return for last month is overdue once the pack's due day has passed.
    `held`: provider -> the periods its KPI returns covered."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    due_day = min((p.settings.return_due_day for p in catalog.packs if p.suite and p.in_force(today)), default=15)
    expected = period_from_index(period_index(f"{today.year:04d}-{today.month:02d}") - 1)
    due = dt.date(today.year, today.month, due_day)
    if today <= due:
        return []
    return [Overdue(p, expected, due) for p in sorted(held) if expected not in held[p]]


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

    def get(self, session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime
            ) -> tuple[WeekData, dict]:
        """The week's data as `load_week` gives it, and its render cache."""
        _, end = window(week, timezone)
        if as_of < end:
            return load_week(session, catalog, week, timezone, as_of), {}
        key = (str(session.get_bind().url), week, timezone, store.data_version(session))
        if self._value is None or key != self._key or catalog is not self._catalog:
            self._key, self._catalog = key, catalog
            self._value = (load_week(session, catalog, week, timezone, as_of), {})
        return self._value
