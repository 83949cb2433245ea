"""Load a week's digest data from the database: a few queries for all subscribers."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from alerts.digest.compose import Ack, FinancePosition, LandedReturn, Overdue, Point, Row, WeekData, WeekEvent
from alerts.notify.route import ALL_TRANSITIONS
from alerts.store.models import AlertEvent, Observation, RatingRecord, ReturnRecord
from rules.catalog import Catalog
from rules.evaluate import derive
from rules.periods import period_from_index, period_index


def parse_week(week: str) -> tuple[int, int]:
    try:
        year, w = week.upper().split("-W")
        dt.date.fromisocalendar(int(year), int(w), 1)
        return int(year), int(w)
    except ValueError:
        raise ValueError(f"expected an ISO week such as 2025-W12, got {week!r}") from None


def week_of(moment: dt.datetime, timezone: str) -> str:
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def window(week: str, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The digest for ISO week W covers the seven days before W's Monday (local midnight)."""
    year, w = parse_week(week)
    zone = ZoneInfo(timezone)
    monday = dt.date.fromisocalendar(year, w, 1)
    # Local midnights at both ends: the week the clocks change is 167 or 169 hours long.
    start = dt.datetime.combine(monday - dt.timedelta(days=7), dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(monday, dt.time.min, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def load_week(session: Session, catalog: Catalog, week: str, timezone: str, as_of: dt.datetime | None = None
              ) -> WeekData:
    start, end = window(week, timezone)
    cutoff = min(as_of, end) if as_of else end  # what was known when the digest went out
    latest: dict[tuple[str, str, str], tuple] = {}
    for row in session.execute(
        select(RatingRecord.rule_id, RatingRecord.subject, RatingRecord.provider, RatingRecord.team,
               RatingRecord.period, RatingRecord.value, RatingRecord.rating, RatingRecord.thresholds)
        .where(RatingRecord.evaluated_at < cutoff, RatingRecord.rating.is_not(None))  # type: ignore[union-attr]
        .order_by(RatingRecord.id)
    ):
        latest[(row.rule_id, row.subject, row.period)] = tuple(row)
    series: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for (rule_id, subject, _period), row in sorted(latest.items(), key=lambda kv: kv[0][2]):
        series[(rule_id, subject)].append(row)
    acks = {}
    for e in session.execute(select(AlertEvent).where(AlertEvent.kind == "acknowledged", AlertEvent.at < cutoff)
                             .order_by(AlertEvent.id)).scalars():
        acks[(e.rule_id, e.subject)] = Ack(_aware(e.at), e.by, e.note)
    rows = []
    for (rule_id, subject), points in series.items():
        bound = catalog.rules_by_id.get(rule_id)
        if bound is None:
            continue
        last = points[-1]
        rows.append(Row(rule_id=rule_id, indicator=bound.rule.measure_key, code=bound.code, name=bound.rule.name,
                        unit=bound.rule.unit, polarity=bound.rule.polarity, tags=tuple(bound.rule.tags),
                        provider=last[2], subject=subject, team=last[3], thresholds=json.loads(last[7] or "{}"),
                        series=tuple(Point(p[4], p[5], p[6]) for p in points), ack=acks.get((rule_id, subject))))
    events = []
    for e in session.execute(select(AlertEvent).where(AlertEvent.at >= start, AlertEvent.at < cutoff,
                                                      AlertEvent.kind.in_(ALL_TRANSITIONS))  # type: ignore[attr-defined]
                             .order_by(AlertEvent.id)).scalars():
        bound = catalog.rules_by_id.get(e.rule_id)
        events.append(WeekEvent(at=_aware(e.at), kind=e.kind, rule_id=e.rule_id,
                                indicator=bound.rule.measure_key if bound else e.rule_id,
                                code=bound.code if bound else None, name=bound.rule.name if bound else e.rule_id,
                                tags=tuple(bound.rule.tags) if bound else (), provider=e.provider,
                                subject=e.subject, team=e.team, from_state=e.from_state, to_state=e.to_state,
                                period=e.period, value=e.value, unit=bound.rule.unit if bound else "number"))
    returns = [LandedReturn(r.provider, r.kind, r.periods, _aware(r.received_at), r.status)
               for r in session.execute(select(ReturnRecord).where(ReturnRecord.received_at >= start,
                                                                   ReturnRecord.received_at < cutoff)
                                        .order_by(ReturnRecord.id)).scalars()]
    return WeekData(week, start, end, tuple(rows), tuple(events), tuple(returns),
                    tuple(overdue_returns(session, catalog, cutoff, timezone)),
                    tuple(finance_positions(session, catalog, rows)))


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
        key = (str(session.get_bind().url), week, timezone, data_version(session))
        if self._value is None or key != self._key or catalog is not self._catalog:
            self._key, self._catalog = key, catalog
            self._value = (load_week(session, catalog, week, timezone, as_of), {})
        return self._value


def data_version(session: Session) -> tuple:
    """(highest id, rows) of ratings, alert events and returns (observations land with their
    return), and the latest event and return times: a database made anew at the same path
    differs in those."""
    parts = [select(func.max(AlertEvent.at)).scalar_subquery(),
             select(func.max(ReturnRecord.received_at)).scalar_subquery()]
    for table in (RatingRecord, AlertEvent, ReturnRecord):
        parts += [select(func.max(table.id)).scalar_subquery(),
                  select(func.count()).select_from(table).scalar_subquery()]
    return tuple(session.execute(select(*parts)).one())


def finance_positions(session: Session, catalog: Catalog, rows: list[Row]) -> list[FinancePosition]:
    """Forecast outturn against funding, in pounds and percent, for each provider's latest finance period."""
    out = []
    for row in rows:
        if row.rule_id != "forecast_overspend_pct":
            continue
        values = dict(session.execute(select(Observation.measure, Observation.value).where(
            Observation.provider == row.provider, Observation.kind == "finance",
            Observation.period == row.latest.period, Observation.current)).all())
        v = derive(catalog, "finance", row.provider, values)
        if v.get("funding") and v.get("forecast_outturn") is not None:
            out.append(FinancePosition(row.provider, row.latest.period, v["forecast_outturn"], v["funding"],
                                       v["forecast_overspend"], v["forecast_overspend_pct"], row.latest.rating))
    return out


def overdue_returns(session: Session, catalog: Catalog, now: dt.datetime, timezone: str) -> list[Overdue]:
    """A provider's KPI return for last month is overdue once the pack's due day has passed."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    due_day = min((p.settings.return_due_day for p in catalog.packs if p.suite and p.in_force(today)), default=15)
    expected = period_from_index(period_index(f"{today.year:04d}-{today.month:02d}") - 1)
    due = dt.date(today.year, today.month, due_day)
    if today <= due:
        return []
    held: dict[str, set[str]] = defaultdict(set)
    for provider, periods in session.execute(select(ReturnRecord.provider, ReturnRecord.periods)
                                             .where(ReturnRecord.kind == "kpi")):
        held[provider].update(periods.split(","))
    return [Overdue(p, expected, due) for p in sorted(held) if expected not in held[p]]
