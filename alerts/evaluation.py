"""Evaluating a landed return: rate what changed, move alerts, keep the history.

Round trips do not grow with the number of rows: observations, the affected rating series
and alerts are each read in one query, and ratings and events are written in bulk.
Idempotent: a return already evaluated returns its stored outcome (a redelivered task
does nothing twice).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlmodel import Session

from alerts.lifecycle import next_state
from alerts.store.models import Alert, AlertEvent, Observation, RatingRecord, ReturnRecord, utcnow
from rules.catalog import Catalog
from rules.evaluate import evaluate_period
from rules.model import Rating
from rules.periods import period_index


@dataclass(frozen=True)
class Outcome:
    return_id: int
    evaluations: list[dict]
    transitions: list[dict]


def _since(series: list[tuple[str, Rating]], state: Rating) -> str:
    """First period of the trailing run of consecutive months rated `state`."""
    since = series[-1][0]
    expected = None
    for period, rating in reversed(series):
        if rating is not state or (expected is not None and period_index(period) != expected):
            break
        since, expected = period, period_index(period) - 1
    return since


def evaluate_return(session: Session, catalog: Catalog, return_id: int) -> Outcome:
    rec = session.get(ReturnRecord, return_id)
    if rec is None:
        raise LookupError(f"no return with id {return_id}")
    if rec.evaluated_at is not None:
        return load_outcome(session, catalog, return_id)
    periods = rec.periods.split(",")
    observations = session.execute(
        select(Observation).where(Observation.provider == rec.provider, Observation.kind == rec.kind,
                                  Observation.period.in_(periods), Observation.current)  # type: ignore[attr-defined]
    ).scalars().all()
    by_period = defaultdict(list)
    for o in observations:
        by_period[o.period].append(o)
    evaluations = [e for p in periods for e in evaluate_period(catalog, rec.kind, rec.provider, p, by_period[p])]

    session.execute(
        update(RatingRecord)
        .where(RatingRecord.provider == rec.provider, RatingRecord.kind == rec.kind,
               RatingRecord.period.in_(periods), RatingRecord.current)  # type: ignore[attr-defined]
        .values(current=False)
    )
    now = utcnow()
    if evaluations:
        session.execute(insert(RatingRecord), [
            dict(return_id=rec.id, rule_id=e.rule.id, subject=e.subject, provider=e.provider, kind=rec.kind,
                 period=e.period, value=e.value, rating=e.rating.value if e.rating else None,
                 thresholds=e.thresholds, rule_version=e.version, evaluated_at=now, current=True)
            for e in evaluations
        ])
    _move_alerts(session, catalog, rec, {(e.rule.id, e.subject) for e in evaluations if e.rating is not None})
    rec.evaluated_at = now
    session.add(rec)
    session.commit()
    return load_outcome(session, catalog, return_id)


def _move_alerts(session: Session, catalog: Catalog, rec: ReturnRecord, keys: set[tuple[str, str]]) -> None:
    if not keys:
        return
    rule_ids = sorted({r for r, _ in keys})
    series: dict[tuple[str, str], list[tuple[str, Rating, float]]] = defaultdict(list)
    rows = session.execute(
        select(RatingRecord.rule_id, RatingRecord.subject, RatingRecord.period, RatingRecord.rating,
               RatingRecord.value)
        .where(RatingRecord.provider == rec.provider, RatingRecord.rule_id.in_(rule_ids),  # type: ignore[attr-defined]
               RatingRecord.current, RatingRecord.rating.is_not(None))  # type: ignore[union-attr]
        .order_by(RatingRecord.period)
    )
    for rule_id, subject, period, rating, value in rows:
        if (rule_id, subject) in keys:
            series[(rule_id, subject)].append((period, Rating(rating), value))
    alerts = {(a.rule_id, a.subject): a for a in session.execute(
        select(Alert).where(Alert.provider == rec.provider, Alert.rule_id.in_(rule_ids))  # type: ignore[attr-defined]
    ).scalars()}
    events = []
    for key in sorted(keys):
        rule_id, subject = key
        points = series[key]
        rated = [(p, r) for p, r, _ in points]
        alert = alerts.get(key)
        current = Rating(alert.state) if alert else None
        new, change = next_state(current, rated, catalog.rules_by_id[rule_id].rule.for_periods)
        latest_period, _, latest_value = points[-1]
        if alert is None:
            alert = Alert(rule_id=rule_id, subject=subject, provider=rec.provider, state=new.value,  # type: ignore[union-attr]
                          period=latest_period, value=latest_value, since_period=_since(rated, new))  # type: ignore[arg-type]
            alerts[key] = alert
        else:
            alert.state, alert.period, alert.value = new.value, latest_period, latest_value  # type: ignore[union-attr]
            if change is not None:
                alert.since_period = _since(rated, new)  # type: ignore[arg-type]
            alert.updated_at = utcnow()
        session.add(alert)
        if change is not None:
            events.append((alert, change, latest_period, latest_value))
    session.flush()  # new alerts get their ids
    if events:
        session.execute(insert(AlertEvent), [
            dict(alert_id=a.id, return_id=rec.id, rule_id=a.rule_id, subject=a.subject, provider=a.provider,
                 from_state=c.from_state.value if c.from_state else None, to_state=c.to_state.value, kind=c.kind,
                 period=period, value=value, at=utcnow())
            for a, c, period, value in events
        ])


def load_outcome(session: Session, catalog: Catalog, return_id: int) -> Outcome:
    ratings = session.execute(
        select(RatingRecord).where(RatingRecord.return_id == return_id).order_by(RatingRecord.id)
    ).scalars().all()
    evaluations = []
    for r in ratings:
        bound = catalog.rules_by_id.get(r.rule_id)
        evaluations.append({
            "rule": r.rule_id,
            "indicator": bound.rule.measure_key if bound else None,
            "code": bound.code if bound else None,
            "suite": bound.suite if bound else None,
            "subject": r.subject,
            "period": r.period,
            "value": r.value,
            "rating": r.rating,
        })
    events = session.execute(
        select(AlertEvent).where(AlertEvent.return_id == return_id).order_by(AlertEvent.id)
    ).scalars().all()
    transitions = [{"rule": e.rule_id, "subject": e.subject, "from": e.from_state, "to": e.to_state,
                    "kind": e.kind, "period": e.period} for e in events]
    return Outcome(return_id, evaluations, transitions)
