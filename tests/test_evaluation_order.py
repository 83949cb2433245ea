"""Returns of one provider and kind are rated in the order they were stored, whatever order their
evaluations run in (issue 11, section 6.6): two uploads racing, a relay re-publishing an old one.
Each return rates its own observations, so the outcome is exactly a sequential run's. And a
byte-identical duplicate that arrives while the first copy is still being evaluated is answered
`duplicate`, never as the upload that rated it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import text

from alerts import steps
from alerts.store.db import session_for
from alerts.store.landing import get_return
from alerts.store.models import utcnow
from alerts.store.schema import upgrade_url
from alerts.usecases import ingest
from alerts.usecases.evaluate import evaluate_return
from config import Settings
from rules.loader import load_catalog
from tests.conftest import kpi_csv
from tests.test_relay import Broker

# One period, three submissions: the first opens two red alerts, the second (a restatement)
# resolves one and keeps the other, the third reopens the first and resolves the second.
SUBMISSIONS = [
    kpi_csv([("2024-10", "PI1", "60"), ("2024-10", "PI2", "50")]),
    kpi_csv([("2024-10", "PI1", "99"), ("2024-10", "PI2", "50")]),
    kpi_csv([("2024-10", "PI1", "61"), ("2024-10", "PI2", "99")]),
]


def land_unevaluated(settings: Settings, data: bytes, now: dt.datetime | None = None) -> int:
    """Land as a broker-mode ingest does with the broker down: stored, awaiting evaluation."""
    down = Broker()
    down.down = True
    with session_for(settings.database_url) as session:
        result = ingest.ingest_bytes(session, load_catalog(settings.rules_dir), f"kpi-{len(data)}-{hash(data)}.csv",
                                     data, steps.ToWorkers(settings, down).evaluate, now or utcnow(),
                                     limits=ingest.ReturnLimits.of(settings))
    assert result.landed is not None and result.deferred
    return result.landed.return_id


def state(settings: Settings) -> dict:
    """Everything the evaluations left, with returns named by their place in store order."""
    with session_for(settings.database_url) as s:
        def q(sql: str) -> list[tuple]:
            return [tuple(r) for r in s.execute(text(sql)).all()]
        ids = [r for r, in q("SELECT id FROM returns ORDER BY id")]
        place = {r: i for i, r in enumerate(ids)}
        return {
            "alerts": q("SELECT rule_id, subject, state, period, value, since_period FROM alerts "
                        "ORDER BY rule_id, subject"),
            "current": [(place[r], *rest) for r, *rest in q(
                "SELECT return_id, rule_id, subject, value, rating FROM ratings WHERE current "
                "ORDER BY rule_id, subject")],
            "ratings": sorted((place[r], *rest) for r, *rest in q(
                "SELECT return_id, rule_id, subject, value, rating FROM ratings")),
            "events": sorted((place[r], *rest) for r, *rest in q(
                "SELECT return_id, rule_id, subject, from_state, to_state, kind, value FROM alert_events")),
            "outbox": q("SELECT count(*) FROM deliveries"),
            "unevaluated": q("SELECT count(*) FROM returns WHERE evaluated_at IS NULL"),
        }


@pytest.fixture
def sequential(make_settings) -> dict:
    """The three submissions landed and evaluated one after the other, in-process."""
    settings = make_settings("sequential.db")
    upgrade_url(settings.database_url)
    catalog = load_catalog(settings.rules_dir)
    for data in SUBMISSIONS:
        return_id = land_unevaluated(settings, data)
        with session_for(settings.database_url) as s:
            evaluate_return(s, catalog, return_id, utcnow())
    found = state(settings)
    assert all(any(e[0] == i for e in found["events"]) for i in range(3))  # each one moved an alert
    return found


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o)))
def test_evaluations_in_any_order_end_as_the_sequential_run(make_settings, sequential, order):
    settings = make_settings("raced.db")
    upgrade_url(settings.database_url)
    catalog = load_catalog(settings.rules_dir)
    ids = [land_unevaluated(settings, data) for data in SUBMISSIONS]
    outcomes = {}
    for i in order:
        with session_for(settings.database_url) as s:
            outcomes[i] = evaluate_return(s, catalog, ids[i], utcnow())
    assert state(settings) == sequential
    # each outcome is its own return's, whichever evaluation rated it
    for i, outcome in outcomes.items():
        assert outcome.return_id == ids[i]
        assert {t.return_id for t in outcome.transitions} == {ids[i]}
    with session_for(settings.database_url) as s:
        rated = [get_return(s, r).evaluated_at for r in ids]
    assert rated == sorted(rated)  # rated in store order


def test_evaluating_a_later_return_hands_on_the_earlier_ones_deliveries_too(make_settings):
    from tests.conftest import add_subscriber
    settings = make_settings()
    upgrade_url(settings.database_url)
    add_subscriber(settings, "Lead", "lead@example.org")
    first, second = (land_unevaluated(settings, data) for data in SUBMISSIONS[:2])
    with session_for(settings.database_url) as s:
        outcome = evaluate_return(s, load_catalog(settings.rules_dir), second, utcnow())
        count = s.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
    assert count == 2 and len(outcome.deliveries) == 2  # the first's breach email and the second's change


def test_received_at_never_runs_backwards_within_a_provider_and_kind(make_settings):
    """Two uploads racing take their clocks before landing; the one stored second may hold the
    earlier reading. Store order and received_at agree all the same."""
    settings = make_settings()
    upgrade_url(settings.database_url)
    t = dt.datetime(2024, 11, 12, 9, 0, tzinfo=dt.UTC)
    first = land_unevaluated(settings, SUBMISSIONS[0], t)
    second = land_unevaluated(settings, SUBMISSIONS[1], t - dt.timedelta(milliseconds=3))
    other = land_unevaluated(settings, kpi_csv([("2024-10", "PI1", "60")], provider="walsall"),
                             t - dt.timedelta(seconds=1))
    with session_for(settings.database_url) as s:
        got = {r: get_return(s, r).received_at for r in (first, second, other)}
    assert got[first] == got[second] == t
    assert got[other] == t - dt.timedelta(seconds=1)  # another provider keeps its own clock


def test_a_duplicate_arriving_while_the_first_copy_is_evaluated_is_answered_duplicate(settings):
    """The duplicate lands while the first upload's evaluation has not started: it is answered
    `duplicate` (evaluation pending: it did not wait), and the first upload rates the return."""
    catalog = load_catalog(settings.rules_dir)
    limits = ingest.ReturnLimits.of(settings)
    data = SUBMISSIONS[0]
    seen: list[ingest.IngestResult] = []
    in_process = steps.InProcess(settings)

    def first_dispatch(return_id: int, claimed: bool = False):
        with session_for(settings.database_url) as other:  # another upload of the same bytes, now
            seen.append(ingest.ingest_bytes(other, catalog, "again.csv", data, in_process.evaluate, utcnow(), 0.0,
                                            limits=limits))
        return in_process.evaluate(return_id, claimed)

    with session_for(settings.database_url) as session:
        result = ingest.ingest_bytes(session, catalog, "first.csv", data, first_dispatch, utcnow(), limits=limits)
    (dup,) = seen
    assert (dup.landed.status, dup.outcome, dup.evaluated) == ("duplicate", None, False)
    assert result.landed.status == "accepted" and result.evaluated and len(result.outcome.transitions) == 2
    with session_for(settings.database_url) as session:  # and once rated, a plain duplicate
        again = ingest.ingest_bytes(session, catalog, "third.csv", data, in_process.evaluate, utcnow(), limits=limits)
    assert (again.landed.status, again.evaluated) == ("duplicate", True)


def test_a_duplicate_of_a_return_whose_evaluation_went_stale_evaluates_it(settings):
    """Handed on longer ago than KPI_ALERTS_RELAY_STALE_SECONDS and still unrated (the process that
    had it was killed): the next upload of the same bytes rates it, with the status it landed with."""
    catalog = load_catalog(settings.rules_dir)
    limits = ingest.ReturnLimits.of(settings)
    landed_at = utcnow() - dt.timedelta(seconds=settings.relay_stale_seconds + 1)
    with session_for(settings.database_url) as session:
        killed = ingest.ingest_bytes(session, catalog, "k.csv", SUBMISSIONS[0], lambda rid, claimed=False: None,
                                     landed_at, 0.0, limits=limits)
    assert not killed.evaluated
    with session_for(settings.database_url) as session:
        again = ingest.ingest_bytes(session, catalog, "k.csv", SUBMISSIONS[0], steps.InProcess(settings).evaluate,
                                    utcnow(), limits=limits)
    assert again.landed.status == "accepted" and again.evaluated and len(again.outcome.transitions) == 2
