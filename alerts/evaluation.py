"""Evaluating a landed return: rate what changed, move alerts, keep the history.

Round trips do not grow with the number of rows: observations, the affected rating series
and alerts are each read in one query, and ratings, alerts and events are written in bulk.
Idempotent: a return already evaluated returns its stored outcome (a redelivered task
does nothing twice).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from alerts.lifecycle import next_state
from alerts.notify.changes import build_change
from alerts.notify.pipeline import plan
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
    deliveries: tuple[int, ...] = ()  # outbox rows written with the transitions, to send after commit

    def __repr__(self) -> str:  # Celery logs task results: keep it one short line
        return f"Outcome(return {self.return_id}: {len(self.evaluations)} ratings, {len(self.transitions)} transitions)"


def _since(series: list[tuple[str, Rating]], state: Rating) -> str:
    """First period of the trailing run of consecutive months rated `state`."""
    since = series[-1][0]
    expected = None
    for period, rating in reversed(series):
        if rating is not state or (expected is not None and period_index(period) != expected):
            break
        since, expected = period, period_index(period) - 1
    return since


def evaluation_json(catalog: Catalog, rule_id: str, subject: str, period: str, value: float,
                    rating: str | None) -> dict:
    bound = catalog.rules_by_id.get(rule_id)
    return {"rule": rule_id, "indicator": bound.rule.measure_key if bound else None,
            "code": bound.code if bound else None, "suite": bound.suite if bound else None,
            "subject": subject, "period": period, "value": value, "rating": rating}


def transition_json(event: dict) -> dict:
    return {"rule": event["rule_id"], "subject": event["subject"], "from": event["from_state"],
            "to": event["to_state"], "kind": event["kind"], "period": event["period"]}


def evaluate_return(session: Session, catalog: Catalog, return_id: int, base_url: str = "") -> Outcome:
    rec = session.get(ReturnRecord, return_id)
    if rec is None:
        raise LookupError(f"no return with id {return_id}")
    if rec.evaluated_at is not None:
        return load_outcome(session, catalog, return_id)
    periods = rec.periods.split(",")
    observations = session.execute(
        select(Observation.period, Observation.measure, Observation.value, Observation.team, Observation.service,
               Observation.worker, Observation.asye)
        .where(Observation.provider == rec.provider, Observation.kind == rec.kind,
               Observation.period.in_(periods), Observation.current)  # type: ignore[attr-defined]
    ).all()
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
        session.execute(insert(RatingRecord.__table__), [  # Core executemany: no ORM objects on the hot path
            dict(return_id=rec.id, rule_id=e.rule.id, subject=e.subject, provider=e.provider, team=e.team,
                 kind=rec.kind,
                 period=e.period, value=e.value, rating=e.rating.value if e.rating else None,
                 thresholds=e.thresholds, rule_version=e.version, evaluated_at=now, current=True)
            for e in evaluations
        ])
    teams = {(e.rule.id, e.subject): e.team for e in evaluations if e.rating is not None}
    events, series = _move_alerts(session, catalog, rec, teams)
    thresholds = {(e.rule.id, e.subject, e.period): e.thresholds for e in evaluations}
    changes = [build_change(catalog, ev, series[(ev["rule_id"], ev["subject"])],
                            thresholds.get((ev["rule_id"], ev["subject"], ev["period"]))) for ev in events]
    deliveries = plan(session, changes, now, base_url)  # the outbox, in the same transaction
    rec.evaluated_at = now
    session.add(rec)
    session.commit()
    return Outcome(
        return_id,
        [evaluation_json(catalog, e.rule.id, e.subject, e.period, e.value, e.rating.value if e.rating else None)
         for e in evaluations],
        [transition_json(ev) for ev in events],
        tuple(deliveries),
    )


Series = dict[tuple[str, str], list[tuple[str, Rating, float]]]


def _move_alerts(session: Session, catalog: Catalog, rec: ReturnRecord,
                 keys: dict[tuple[str, str], str | None]) -> tuple[list[dict], Series]:
    """Next state for each rated (rule, subject) -> its team; returns the events written
    (with ids) and the rated series read."""
    if not keys:
        return [], {}
    rule_ids = sorted({r for r, _ in keys})
    series: Series = defaultdict(list)
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
        select(Alert.id, Alert.rule_id, Alert.subject, Alert.state, Alert.since_period)
        .where(Alert.provider == rec.provider, Alert.rule_id.in_(rule_ids))  # type: ignore[attr-defined]
    )}
    now = utcnow()
    created, changed, moves = [], [], []
    for key in sorted(keys):
        rule_id, subject = key
        rated = [(p, r) for p, r, _ in series[key]]
        latest_period, _, latest_value = series[key][-1]
        alert = alerts.get(key)
        current = Rating(alert.state) if alert else None
        new, change = next_state(current, rated, catalog.rules_by_id[rule_id].rule.for_periods)
        assert new is not None  # a non-empty series always gives a state
        since = _since(rated, new) if alert is None or change is not None else alert.since_period
        row = dict(rule_id=rule_id, subject=subject, provider=rec.provider, team=keys[key], state=new.value,
                   period=latest_period,
                   value=latest_value, since_period=since, updated_at=now)
        if alert is None:
            created.append(row)
        else:
            changed.append({**row, "alert_id": alert.id})
        if change is not None:
            moves.append(dict(rule_id=rule_id, subject=subject, provider=rec.provider, team=keys[key], return_id=rec.id,
                              from_state=change.from_state.value if change.from_state else None,
                              to_state=change.to_state.value, kind=change.kind, period=latest_period,
                              value=latest_value, at=now))
    table = Alert.__table__
    if created:
        session.execute(insert(table), created)
    if changed:
        session.execute(
            update(table).where(table.c.id == bindparam("alert_id"))
            .values(state=bindparam("state"), team=bindparam("team"), period=bindparam("period"),
                    value=bindparam("value"),
                    since_period=bindparam("since_period"), updated_at=bindparam("updated_at")),
            changed,
        )
    if moves:
        ids = {(a.rule_id, a.subject): a.id for a in session.execute(
            select(Alert.id, Alert.rule_id, Alert.subject)
            .where(Alert.provider == rec.provider, Alert.rule_id.in_({m["rule_id"] for m in moves}))  # type: ignore[attr-defined]
        )}
        table = AlertEvent.__table__
        moves = [{**m, "alert_id": ids[(m["rule_id"], m["subject"])]} for m in moves]
        event_ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), moves)
        for m, event_id in zip(moves, event_ids.scalars(), strict=True):
            m["id"] = event_id
    return moves, series


def load_outcome(session: Session, catalog: Catalog, return_id: int) -> Outcome:
    """What a return's evaluation produced, read back (a duplicate, a retried task, a worker's result)."""
    ratings = session.execute(
        select(RatingRecord.rule_id, RatingRecord.subject, RatingRecord.period, RatingRecord.value,
               RatingRecord.rating).where(RatingRecord.return_id == return_id).order_by(RatingRecord.id)
    ).all()
    events = session.execute(
        select(AlertEvent.rule_id, AlertEvent.subject, AlertEvent.from_state, AlertEvent.to_state, AlertEvent.kind,
               AlertEvent.period).where(AlertEvent.return_id == return_id).order_by(AlertEvent.id)
    ).mappings().all()
    return Outcome(return_id, [evaluation_json(catalog, *r) for r in ratings], [transition_json(e) for e in events])
