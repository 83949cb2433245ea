"""Never depend on the broker being up (issue 11, section 2), in-process: publishing the
evaluation after the landing commits, a broker that refuses it (a `Deferred`, never an
exception), the relay that publishes what is still awaiting evaluation and re-publishes what
went stale, and the claim that lets only one of two concurrent evaluations write.

The broker is a recorder here (or a real, closed loopback port); tests/e2e/test_relay.py runs
the same with redis-server, workers and beat."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select, update

from alerts import steps
from alerts.events import Deferred
from alerts.store.db import session_for
from alerts.store.landing import claim_oldest_evaluation, claim_publication, get_return, pending_returns
from alerts.store.models import AlertEvent, Delivery, RatingRecord, ReturnRecord, utcnow
from alerts.store.schema import upgrade_url
from alerts.usecases import ingest
from alerts.usecases.evaluate import evaluate_return
from config import Settings
from rules.loader import load_catalog
from tests.conftest import add_subscriber, kpi_csv
from tests.peers import free_port

BREACH = [("2024-10", "PI1", "60"), ("2024-10", "PI2", "50")]


def land_unevaluated(settings: Settings, rows: list[tuple[str, str, str]] | None = None) -> int:
    """Land a return as a broker-mode ingest does, with its publication refused: its id."""
    down = Broker()
    down.down = True
    with session_for(settings.database_url) as session:
        result = ingest.ingest_bytes(session, load_catalog(settings.rules_dir), f"kpi-{time.monotonic_ns()}.csv",
                                     kpi_csv(rows or BREACH), steps.ToWorkers(settings, down).evaluate,
                                     utcnow(), limits=ingest.ReturnLimits.of(settings))
    assert result.landed is not None and result.deferred == "ConnectionRefusedError: [Errno 111] Connection refused"
    return result.landed.return_id


class Broker:
    """send_task's stand-in: records (name, args); `down` makes it raise as kombu does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple]] = []
        self.down = False
        self.fail_after: int | None = None

    def __call__(self, name: str, args: tuple = (), **_: object) -> None:
        if self.down or (self.fail_after is not None and len(self.sent) >= self.fail_after):
            raise ConnectionRefusedError(111, "Connection refused")
        self.sent.append((name, tuple(args)))

    def evaluations(self) -> list[int]:
        return [args[0] for name, args in self.sent if name == steps.EVALUATE]


@pytest.fixture
def broker_settings(make_settings) -> Settings:
    settings = make_settings(broker_url="redis://127.0.0.1:1/0", relay_stale_seconds=300)
    upgrade_url(settings.database_url)  # with a broker set nothing upgrades by itself: `kpi-alerts db upgrade`
    return settings


def published_at(settings: Settings, return_id: int) -> dt.datetime | None:
    with session_for(settings.database_url) as s:
        return s.execute(select(ReturnRecord.published_at).where(ReturnRecord.id == return_id)).scalar_one()


def set_published_at(settings: Settings, return_id: int, at: dt.datetime | None) -> None:
    with session_for(settings.database_url) as s:
        s.execute(update(ReturnRecord).where(ReturnRecord.id == return_id).values(published_at=at))
        s.commit()


def test_a_broker_that_refuses_the_evaluation_leaves_the_return_pending_and_unpublished(broker_settings):
    return_id = land_unevaluated(broker_settings)
    broker = Broker()
    broker.down = True
    outcome = steps.ToWorkers(broker_settings, broker).evaluate(return_id)
    assert outcome == Deferred(return_id, "ConnectionRefusedError: [Errno 111] Connection refused")
    assert published_at(broker_settings, return_id) is None  # released: the relay's to publish
    with session_for(broker_settings.database_url) as s:
        assert [r.id for r in pending_returns(s)] == [return_id]


def test_a_published_evaluation_is_recorded(broker_settings):
    return_id = land_unevaluated(broker_settings)
    broker = Broker()
    before = utcnow()
    assert steps.ToWorkers(broker_settings, broker).evaluate(return_id) is None
    assert broker.evaluations() == [return_id]
    assert before <= published_at(broker_settings, return_id) <= utcnow()
    # published a moment ago and not stale: a second publication (a relay) claims nothing
    assert steps.ToWorkers(broker_settings, broker).evaluate(return_id) is None
    assert steps.relay(broker_settings, steps.ToWorkers(broker_settings, broker)) == 0
    assert broker.evaluations() == [return_id]


def test_the_relay_publishes_what_awaits_evaluation_once_and_re_publishes_what_went_stale(broker_settings):
    third, first, second = (land_unevaluated(broker_settings, [("2024-10", "PI1", v)]) for v in ("60", "61", "62"))
    with session_for(broker_settings.database_url) as s:  # rated already (the oldest: it alone)
        evaluate_return(s, load_catalog(broker_settings.rules_dir), third, utcnow())
    broker = Broker()
    to = steps.ToWorkers(broker_settings, broker)
    assert steps.relay(broker_settings, to) == 2
    assert broker.evaluations() == [first, second]
    assert steps.relay(broker_settings, to) == 0  # published, not stale yet
    # a worker took `first` and was killed whole: published 301 s ago (stale after 300), unfinished
    set_published_at(broker_settings, first, utcnow() - dt.timedelta(seconds=301))
    set_published_at(broker_settings, second, utcnow() - dt.timedelta(seconds=299))
    assert steps.relay(broker_settings, to) == 1
    assert broker.evaluations() == [first, second, first]
    assert published_at(broker_settings, first) > utcnow() - dt.timedelta(seconds=5)
    assert published_at(broker_settings, third) is None  # an evaluated return is never published


def test_a_relay_that_loses_the_broker_midway_keeps_the_rest_for_the_next_run(broker_settings):
    ids = [land_unevaluated(broker_settings, [("2024-10", "PI1", str(60 + i))]) for i in range(4)]
    broker = Broker()
    broker.fail_after = 2
    to = steps.ToWorkers(broker_settings, broker)
    assert steps.relay(broker_settings, to) == 0  # the batch was not all sent: nothing counted
    assert broker.evaluations() == ids[:2]
    assert [published_at(broker_settings, i) is None for i in ids] == [False, False, True, True]
    broker.fail_after = None
    assert steps.relay(broker_settings, to) == 2
    assert broker.evaluations() == ids


def test_the_relay_without_a_broker_has_nothing_to_do(settings):
    land_unevaluated(settings)
    assert steps.relay(settings, None) == 0


def test_concurrent_relays_never_claim_the_same_return(broker_settings):
    ids = [land_unevaluated(broker_settings, [("2024-10", "PI1", str(60 + i))]) for i in range(30)]
    claimed: list[list[int]] = []
    start = threading.Barrier(3)

    def relay_once() -> None:
        start.wait()
        now = utcnow()
        with session_for(broker_settings.database_url) as s:
            claimed.append(claim_publication(s, now, now - dt.timedelta(seconds=300), limit=7))

    threads = [threading.Thread(target=relay_once) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for c in claimed for i in c]
    assert len(flat) == len(set(flat)) == 21 and set(flat) <= set(ids)


def test_ingest_with_the_broker_down_answers_at_once_with_the_evaluation_pending(make_settings):
    """A real Celery publisher on a loopback port nobody listens on: no exception, no wait."""
    s = make_settings(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    upgrade_url(s.database_url)
    started = time.monotonic()
    with session_for(s.database_url) as session:
        result = ingest.ingest_bytes(session, load_catalog(s.rules_dir), "kpi.csv", kpi_csv(BREACH),
                                     steps.dispatcher_for(s).evaluate, utcnow(), 60.0,
                                     limits=ingest.ReturnLimits.of(s))
    took = time.monotonic() - started
    assert took < 5, took
    assert result.landed is not None and result.landed.status == "accepted"
    assert not result.evaluated and result.evaluation_failed is None
    assert result.deferred and "Connection refused" in result.deferred
    with session_for(s.database_url) as session:
        assert [r.id for r in pending_returns(session)] == [result.landed.return_id]
        assert get_return(session, result.landed.return_id).evaluated_at is None


def _counts(settings: Settings, return_id: int) -> tuple[int, int, int]:
    with session_for(settings.database_url) as s:
        return (s.execute(select(func.count()).select_from(RatingRecord)
                          .where(RatingRecord.return_id == return_id)).scalar_one(),
                s.execute(select(func.count()).select_from(AlertEvent)
                          .where(AlertEvent.return_id == return_id)).scalar_one(),
                s.execute(select(func.count()).select_from(Delivery)).scalar_one())


def test_two_evaluations_of_one_return_at_once_write_it_once(broker_settings):
    add_subscriber(broker_settings, "Lead", "lead@example.org")
    return_id = land_unevaluated(broker_settings)
    catalog = load_catalog(broker_settings.rules_dir)
    outcomes = []
    start = threading.Barrier(4)

    def evaluate() -> None:
        start.wait()
        with session_for(broker_settings.database_url) as s:
            outcomes.append(evaluate_return(s, catalog, return_id, utcnow()))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 4
    ratings, events, deliveries = _counts(broker_settings, return_id)
    assert ratings == 2 and events == 2 and deliveries == 1  # one email listing both breaches
    assert {len(o.transitions) for o in outcomes} == {2}
    assert {tuple(t.id for t in o.transitions) for o in outcomes} == {tuple(t.id for t in outcomes[0].transitions)}


def test_an_evaluation_that_finds_its_return_claimed_writes_nothing(broker_settings):
    """The claim is the first write: while another evaluation holds it (uncommitted), a second
    waits on it and, once that commits, returns the stored outcome without writing."""
    return_id = land_unevaluated(broker_settings)
    holder = session_for(broker_settings.database_url)
    assert claim_oldest_evaluation(holder, get_return(holder, return_id), utcnow()) == return_id
    done: list = []
    second = threading.Thread(target=lambda: done.append(
        evaluate_return(session_for(broker_settings.database_url), load_catalog(broker_settings.rules_dir),
                        return_id, utcnow())))
    second.start()
    time.sleep(0.3)
    assert not done  # waiting on the holder's claim
    holder.commit()
    holder.close()
    second.join(timeout=30)
    assert done and done[0].ratings == () and done[0].transitions == ()
    assert _counts(broker_settings, return_id)[:2] == (0, 0)
    with session_for(broker_settings.database_url) as s:
        assert get_return(s, return_id).evaluated_at is not None
        assert claim_oldest_evaluation(s, get_return(s, return_id), utcnow()) is None
