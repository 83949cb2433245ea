"""Observations read for rating, and the rated series (ratings table). Statements are built
once per process; reads on the landing path are bounded by period, not by history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlmodel import Session

from alerts.events import RatingResult
from alerts.store.models import Observation, RatingRecord, ReturnRecord
from rules.evaluate import Evaluation

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
RATINGS = RatingRecord.__table__  # type: ignore[attr-defined]
RETURNS = ReturnRecord.__table__  # type: ignore[attr-defined]
Key = tuple[str, str]
Point = tuple[str, str, float]  # (period, rating, value)

_OBSERVATIONS = select(
    OBSERVATIONS.c.period, OBSERVATIONS.c.measure, OBSERVATIONS.c.value, OBSERVATIONS.c.team,
    OBSERVATIONS.c.service, OBSERVATIONS.c.worker, OBSERVATIONS.c.asye,
).where(OBSERVATIONS.c.provider == bindparam("provider"), OBSERVATIONS.c.kind == bindparam("kind"),
        OBSERVATIONS.c.period.in_(bindparam("periods", expanding=True)), OBSERVATIONS.c.current)
_OBSERVATIONS_OF_RETURN = select(
    OBSERVATIONS.c.period, OBSERVATIONS.c.measure, OBSERVATIONS.c.value, OBSERVATIONS.c.team,
    OBSERVATIONS.c.service, OBSERVATIONS.c.worker, OBSERVATIONS.c.asye,
).where(OBSERVATIONS.c.return_id == bindparam("return_id"))
_SUPERSEDE = (update(RATINGS)
              .where(RATINGS.c.provider == bindparam("b_provider"), RATINGS.c.kind == bindparam("b_kind"),
                     RATINGS.c.period.in_(bindparam("b_periods", expanding=True)), RATINGS.c.current)
              .values(current=False))
_INSERT = insert(RATINGS)
_POINT = (RATINGS.c.rule_id, RATINGS.c.subject, RATINGS.c.period, RATINGS.c.rating, RATINGS.c.value)
# a provider's rated periods from `start` on (index ix_ratings_period: provider, kind, period)
_SERIES_FROM = (select(*_POINT)
                .where(RATINGS.c.provider == bindparam("provider"), RATINGS.c.kind == bindparam("kind"),
                       RATINGS.c.period >= bindparam("start"), RATINGS.c.current, RATINGS.c.rating.is_not(None),
                       RATINGS.c.rule_id.in_(bindparam("rule_ids", expanding=True)))
                .order_by(RATINGS.c.period))
# older periods of a few keys (index ix_ratings_series: rule_id, subject, current, period)
_SERIES_BEFORE = (select(*_POINT)
                  .where(RATINGS.c.rule_id.in_(bindparam("rule_ids", expanding=True)),
                         RATINGS.c.subject.in_(bindparam("subjects", expanding=True)),
                         RATINGS.c.current, RATINGS.c.period < bindparam("start"), RATINGS.c.rating.is_not(None))
                  .order_by(RATINGS.c.period))
_SERIES_OF_RULES = (select(*_POINT, RATINGS.c.thresholds)
                    .where(RATINGS.c.current, RATINGS.c.rating.is_not(None),
                           RATINGS.c.rule_id.in_(bindparam("rule_ids", expanding=True)))
                    .order_by(RATINGS.c.period))
_OF_RETURN = (select(RATINGS.c.rule_id, RATINGS.c.subject, RATINGS.c.period, RATINGS.c.value, RATINGS.c.rating)
              .where(RATINGS.c.return_id == bindparam("return_id")).order_by(RATINGS.c.id))
# the (period, measure) pairs a return gave a value for (a blank cell is stored as NULL: not reported)
_REPORTED_OF_RETURN = (select(OBSERVATIONS.c.period, OBSERVATIONS.c.measure)
                       .where(OBSERVATIONS.c.return_id == bindparam("return_id"), OBSERVATIONS.c.value.is_not(None)))
# the current ratings of a provider's periods, with the return that gave each and when it arrived:
# read by a restatement's evaluation before its own ratings replace them
_CURRENT_OF_PERIODS = (select(RATINGS.c.rule_id, RATINGS.c.subject, RATINGS.c.period, RATINGS.c.value,
                              RATINGS.c.rating, RATINGS.c.return_id, RETURNS.c.received_at)
                       .join_from(RATINGS, RETURNS, RATINGS.c.return_id == RETURNS.c.id)
                       .where(RATINGS.c.provider == bindparam("provider"), RATINGS.c.kind == bindparam("kind"),
                              RATINGS.c.period.in_(bindparam("periods", expanding=True)), RATINGS.c.current))
SUBJECTS_PER_STATEMENT = 10_000  # well under SQLite's 32,766 bound parameters


def current_observations(session: Session, provider: str, kind: str, periods: Sequence[str]) -> list[Row]:
    return session.connection().execute(
        _OBSERVATIONS, {"provider": provider, "kind": kind, "periods": list(periods)}).all()


def observations_of_return(session: Session, return_id: int) -> list[Row]:
    """What one return reported (an evaluation rates its own return's rows: by the time it runs
    a later restatement may have made other rows current)."""
    return session.connection().execute(_OBSERVATIONS_OF_RETURN, {"return_id": return_id}).all()


def current_ratings(session: Session, provider: str, kind: str, periods: Sequence[str]
                    ) -> dict[tuple[str, str, str], tuple[int, dt.datetime, float, str | None]]:
    """(rule, subject, period) -> (return id, its received_at, value, rating) of the ratings in
    force for these periods: what a restatement is about to replace."""
    rows = session.connection().execute(_CURRENT_OF_PERIODS, {"provider": provider, "kind": kind,
                                                              "periods": list(periods)})
    return {(r.rule_id, r.subject, r.period): (r.return_id, r.received_at, r.value, r.rating) for r in rows}


def replace_ratings(session: Session, return_id: int, provider: str, kind: str, periods: Sequence[str],
                    evaluations: Sequence[Evaluation], now: dt.datetime) -> None:
    """The return's periods' ratings become these: earlier ones are kept, marked not current."""
    conn = session.connection()
    conn.execute(_SUPERSEDE, {"b_provider": provider, "b_kind": kind, "b_periods": list(periods)})
    if evaluations:
        conn.execute(_INSERT, [  # executemany: no ORM objects on the hot path
            dict(return_id=return_id, rule_id=e.rule.id, subject=e.subject, provider=e.provider, team=e.team,
                 kind=kind, period=e.period, value=e.value, rating=e.rating.value if e.rating else None,
                 thresholds=e.thresholds, rule_version=e.version, evaluated_at=now, current=True)
            for e in evaluations])


def series_from(session: Session, provider: str, kind: str, keys: Iterable[Key], start: str) -> dict[Key, list[Point]]:
    """The rated periods of `keys` from `start` on, oldest first."""
    wanted = set(keys)
    out: dict[Key, list[Point]] = defaultdict(list)
    rows = session.connection().execute(_SERIES_FROM, {
        "provider": provider, "kind": kind, "start": start, "rule_ids": sorted({r for r, _ in wanted})}).all()
    for rule_id, subject, period, rating, value in rows:
        if (rule_id, subject) in wanted:
            out[(rule_id, subject)].append((period, rating, value))
    return out


def series_before(session: Session, keys: Iterable[Key], start: str) -> dict[Key, list[Point]]:
    """The rated periods of `keys` before `start`, oldest first: only for the few alerts whose
    trailing run reaches further back than the window read by `series_from`."""
    wanted = set(keys)
    rule_ids = sorted({r for r, _ in wanted})
    subjects = sorted({s for _, s in wanted})
    out: dict[Key, list[Point]] = defaultdict(list)
    conn = session.connection()
    for i in range(0, len(subjects), SUBJECTS_PER_STATEMENT):
        rows = conn.execute(_SERIES_BEFORE, {"rule_ids": rule_ids, "start": start,
                                             "subjects": subjects[i:i + SUBJECTS_PER_STATEMENT]})
        for rule_id, subject, period, rating, value in rows:
            if (rule_id, subject) in wanted:
                out[(rule_id, subject)].append((period, rating, value))
    return out


def series_of_rules(session: Session, rule_ids: Iterable[str]
                    ) -> tuple[dict[Key, list[Point]], dict[tuple[str, str, str], dict]]:
    """Every rated period of these rules' subjects, and the bands used per (rule, subject, period)."""
    series: dict[Key, list[Point]] = defaultdict(list)
    thresholds = {}
    for rule_id, subject, period, rating, value, th in session.connection().execute(
            _SERIES_OF_RULES, {"rule_ids": sorted(set(rule_ids))}):
        series[(rule_id, subject)].append((period, rating, value))
        thresholds[(rule_id, subject, period)] = th
    return series, thresholds


def reported_of_return(session: Session, return_id: int) -> set[tuple[str, str]]:
    """(period, measure) of every value the return gave (not its blank cells)."""
    return {(p, m) for p, m in session.connection().execute(_REPORTED_OF_RETURN, {"return_id": return_id})}


def ratings_of_return(session: Session, return_id: int) -> list[RatingResult]:
    return [RatingResult(*r) for r in session.connection().execute(_OF_RETURN, {"return_id": return_id})]
