"""Evaluating a landed return: rate what changed, move alerts, keep the history.

Round trips do not grow with the number of rows, and reads do not grow with the age of the
service: the alert decision reads the rated periods from a year before the return on (older
ones only for the few new or moving alerts whose run reaches further back). Idempotent: a
return already evaluated returns its stored outcome (a redelivered task does nothing twice), and
of two evaluations of one return running at once (the relay re-published it while a slow worker
still had it) only the one whose claim (`claim_oldest_evaluation`, the first write of its
transaction) finds it unevaluated writes anything; the other returns the stored outcome.

Order: a return rates its own observations, and the returns of one provider and kind are rated
in the order they were stored, whatever order their evaluations run in (two uploads racing, a
relay re-publishing an old one): evaluating a return first evaluates any stored before it that
still await evaluation. So the outcome is the sequential run's: the later-stored submission's
ratings are current, and each return's transitions are its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from sqlmodel import Session

from alerts.events import EvaluationOutcome, RatingResult
from alerts.moves import Decision, Key, Point, corrections, decide, settled
from alerts.notify.changes import Superseded, build_change
from alerts.notify.pipeline import plan
from alerts.store import alerts as alert_store
from alerts.store import ratings as rating_store
from alerts.store.landing import StoredReturn, claim_oldest_evaluation, get_return
from alerts.usecases.expected import resolve_on_landing
from rules.catalog import Catalog
from rules.evaluate import derive, evaluate_period
from rules.periods import period_from_index, period_index, period_start

LOOKBACK_MONTHS = 12  # rated periods read before the return's first: covers most runs in one read


class NotReleased(ValueError):
    """The return is held (awaiting its sender's confirmation) or was superseded while held:
    it is not evaluated (alerts/store/landing.py)."""


def evaluate_return(session: Session, catalog: Catalog, return_id: int, now: dt.datetime,
                    base_url: str = "", timezone: str = "Europe/London") -> EvaluationOutcome:
    """Evaluate the return, after any of its provider and kind stored before it that still await
    evaluation (each in its own transaction, oldest first: the order a sequential run would
    rate them). The outcome is this return's; its deliveries include the earlier ones'."""
    rec = get_return(session, return_id)
    if rec is None:
        raise LookupError(f"no return with id {return_id}")
    if rec.evaluated_at is None and (rec.held or rec.superseded_by is not None):
        raise NotReleased(f"return {return_id} is held for confirmation" if rec.held
                          else f"return {return_id} was superseded by return {rec.superseded_by} while held")
    earlier_deliveries: list[int] = []
    while rec.evaluated_at is None:
        session.rollback()  # end the read: the claim below is the first statement of the writing transaction
        claimed = claim_oldest_evaluation(session, rec, now)
        if claimed is None:  # a concurrent evaluation committed first: look again
            session.rollback()
        else:
            stored = rec if claimed == rec.id else get_return(session, claimed)
            assert stored is not None  # claimed under its row lock: it exists
            outcome = _evaluate_claimed(session, catalog, stored, now, base_url, timezone)
            if claimed == rec.id:
                return replace(outcome, deliveries=(*earlier_deliveries, *outcome.deliveries))
            earlier_deliveries.extend(outcome.deliveries)
        found = get_return(session, return_id)
        assert found is not None  # returns are never deleted
        rec = found
    # evaluated by a concurrent evaluation (or before): read back what it stored
    return replace(load_outcome(session, return_id, catalog), deliveries=tuple(earlier_deliveries), read_back=True)


def _evaluate_claimed(session: Session, catalog: Catalog, rec: StoredReturn, now: dt.datetime,
                      base_url: str, timezone: str) -> EvaluationOutcome:
    """Rate one claimed return's own observations, move alerts, plan the outbox; commit."""
    by_period = defaultdict(list)
    for o in rating_store.observations_of_return(session, rec.id):
        by_period[o.period].append(o)
    missing = unreported(catalog, rec.kind, rec.provider, rec.periods,
                         {(o.period, o.measure) for os in by_period.values() for o in os if o.value is not None})
    evaluations = [e for p in rec.periods for e in evaluate_period(catalog, rec.kind, rec.provider, p, by_period[p])]
    # a restatement: what the ratings it replaces said, read before they are replaced
    earlier = (rating_store.current_ratings(session, rec.provider, rec.kind, rec.periods)
               if rec.status == "restated" else {})
    rating_store.replace_ratings(session, rec.id, rec.provider, rec.kind, rec.periods, evaluations, now)

    teams = {(e.rule.id, e.subject): e.team for e in evaluations if e.rating is not None}
    decision, series = _decide(session, catalog, rec, teams)
    transitions = alert_store.apply(session, rec.provider, rec.id, decision, now)
    if earlier:  # a restatement: withdraw announced ratings even where no alert moves
        _record_corrections(session, rec, earlier, evaluations, decision, now)
        transitions = alert_store.events_of_return(session, rec.id)
    # the return may be one the calendar found missing: its return_overdue_<kind> alert resolves
    overdue = resolve_on_landing(session, catalog, rec.provider, rec.kind, rec.id, now, timezone)
    if overdue:
        transitions = alert_store.events_of_return(session, rec.id)
    calendar_events = {c.event_id for c in overdue}
    thresholds = {(e.rule.id, e.subject, e.period): e.thresholds for e in evaluations}
    measures = amounts_of(catalog, rec.kind, rec.provider, by_period) if transitions else {}
    standing = {(a.rule_id, a.subject): dict(alert_state=a.state, alert_period=a.period)
                for a in (*decision.created, *decision.updated)}
    changes = [build_change(catalog, {**t.as_row(), **(standing.get((t.rule_id, t.subject), {})
                                                       if t.kind == "corrected" else {})},
                            series[(t.rule_id, t.subject)],
                            thresholds.get((t.rule_id, t.subject, t.period)),
                            not_reported=tuple((code, name) for _, code, name in missing),
                            measures=measures.get(t.period),
                            superseded=superseded(earlier, t.rule_id, t.subject, t.period),
                            unconfirmed=rec.unconfirmed)
               for t in transitions if t.id not in calendar_events] + overdue
    deliveries = plan(session, changes, now, base_url)  # the outbox, in the same transaction
    session.commit()  # ratings, alerts, outbox and the claim's evaluated_at: all or nothing
    ratings = tuple(RatingResult(e.rule.id, e.subject, e.period, e.value, e.rating.value if e.rating else None)
                    for e in evaluations)
    return EvaluationOutcome(rec.id, ratings, tuple(transitions), tuple(deliveries),
                             tuple(key for key, _, _ in missing))


def _record_corrections(session: Session, rec: StoredReturn, earlier: dict, evaluations: list,
                        decision: Decision, now: dt.datetime) -> None:
    """`corrected` events for announced ratings the restatement changed where no alert moved."""
    rated = {(e.rule.id, e.subject, e.period): (e.value, e.rating.value if e.rating else None, e.team)
             for e in evaluations}
    was = {key: found[3] for key, found in earlier.items()}
    changed = {k for k, (_, rating, _) in rated.items() if rating is not None and was.get(k) not in (None, rating)}
    if not changed:
        return
    alerts = alert_store.states(session, rec.provider, {r for r, _, _ in changed})
    ids = [alerts[(r, s)].alert_id for r, s, _ in changed if (r, s) in alerts]
    found = corrections(was, {k: rated[k] for k in changed}, {(m.rule_id, m.subject) for m in decision.moves},
                        alerts, alert_store.announced(session, ids, rec.periods))
    alert_store.record_corrections(session, rec.provider, rec.id, found, now)


def superseded(earlier: dict[tuple[str, str, str], tuple[int, dt.datetime, float, str | None]],
               rule_id: str, subject: str, period: str) -> Superseded | None:
    """What a restatement replaces for one (rule, subject, period), from the ratings that were in
    force (`earlier`, empty for a return that restates nothing): the earlier return's value and
    rating there, or only the most recent earlier return when it had no rating there. Pure."""
    if not earlier:
        return None
    found = earlier.get((rule_id, subject, period))
    if found is not None:
        return Superseded(*found)
    return_id, received = max((r, at) for r, at, _, _ in earlier.values())
    return Superseded(return_id, received)


def amounts_of(catalog: Catalog, kind: str, provider: str, by_period: dict[str, list]
               ) -> dict[str, dict[str, float | None]]:
    """Per period, the reported and derived values a message shows in pounds beside a rule rated
    as a percentage (`amount` in the pack); {} when no rule of the kind has one. Pure."""
    if not any(b.rule.amount is not None for b in catalog.rules_for(kind, provider)):
        return {}
    return {p: derive(catalog, kind, provider, {o.measure: o.value for o in rows}) for p, rows in by_period.items()}


def unreported(catalog: Catalog, kind: str, provider: str, periods: Iterable[str],
               reported: set[tuple[str, str]]) -> list[tuple[str, str | None, str]]:
    """The contract KPIs of the suite in force for each period that the return gave no value
    for (a blank cell or no row): (measure key, code, name), by key; [] for other kinds. Pure."""
    if kind != "kpi":
        return []
    out: dict[str, tuple[str, str | None, str]] = {}
    for period in periods:
        day = period_start(period)
        for bound in catalog.rules:
            pack, rule = bound.pack, bound.rule
            if (bound.code and rule.kind == kind and pack.in_force(day) and pack.applies_to_provider(provider)
                    and (period, rule.measure_key) not in reported):
                out.setdefault(rule.measure_key, (rule.measure_key, bound.code, rule.name))
    return [out[k] for k in sorted(out)]


def _decide(session: Session, catalog: Catalog, rec: StoredReturn, teams: dict[Key, str | None]
            ) -> tuple[Decision, dict[Key, list[Point]]]:
    """The alert decision over the trailing rated periods (see the module docstring)."""
    if not teams:
        return Decision((), (), ()), {}
    rule_ids = {r for r, _ in teams}
    for_periods = {r: catalog.rules_by_id[r].rule.for_periods for r in rule_ids}
    # at least `for_periods` months end at the latest period, so the open/move decision is exact
    lookback = max(LOOKBACK_MONTHS, *for_periods.values())
    start = period_from_index(period_index(min(rec.periods)) - lookback)
    series = rating_store.series_from(session, rec.provider, rec.kind, teams, start)
    alerts = alert_store.states(session, rec.provider, rule_ids)
    decision = decide(teams, alerts, series, for_periods)
    short = [k for k in decision.moved_or_new if not settled(series[k], start)]
    if short:  # their `since` or months outside green may lie before the window: read the rest
        for key, older in rating_store.series_before(session, short, start).items():
            series[key] = older + series[key]
        decision = decide(teams, alerts, series, for_periods)
    return decision, series


def load_outcome(session: Session, return_id: int, catalog: Catalog | None = None) -> EvaluationOutcome:
    """What a return's evaluation produced, read back (a duplicate, a retried task, a worker's
    result); with the catalogue, also what it left unreported (derived from its observations)."""
    missing: list[tuple[str, str | None, str]] = []
    rec = get_return(session, return_id) if catalog is not None else None
    if rec is not None and catalog is not None:
        missing = unreported(catalog, rec.kind, rec.provider, rec.periods,
                             rating_store.reported_of_return(session, return_id))
    return EvaluationOutcome(return_id, tuple(rating_store.ratings_of_return(session, return_id)),
                             tuple(alert_store.events_of_return(session, return_id)),
                             not_reported=tuple(key for key, _, _ in missing))
