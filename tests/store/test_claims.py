"""Workers claiming deliveries at once never claim one twice: on PostgreSQL the claim locks
the row FOR UPDATE SKIP LOCKED (a delivery another transaction is claiming is passed over,
not waited for); on SQLite the guarded UPDATE runs under the one write lock."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from alerts.store import deliveries as store
from alerts.store.db import get_engine
from alerts.store.models import Delivery, DeliveryAttempt, Subscriber

N = 60


def pending(url: str, n: int) -> list[int]:
    with Session(get_engine(url)) as s:
        who = Subscriber(name="Lead", email="lead@example.org")
        s.add(who)
        s.flush()
        rows = [Delivery(key=f"k{i}", subscriber_id=who.id, channel="email", subject="s", body_html="h",
                         body_text="t", severity="red", events=[i]) for i in range(n)]
        s.add_all(rows)
        s.commit()
        return [d.id for d in rows]  # type: ignore[misc]


def test_two_concurrent_claimers_never_claim_a_delivery_twice(new_database, settings):
    url = settings.database_url
    ids = pending(url, N)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claimer(name: str, order: list[int]) -> None:
        start.wait()
        with Session(get_engine(url)) as s:
            for delivery_id in order:
                if store.claim(s, delivery_id, now) is not None:
                    claimed[name].append(delivery_id)
                s.commit()

    threads = [threading.Thread(target=claimer, args=("a", ids)), threading.Thread(target=claimer, args=("b", ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(claimed["a"]).isdisjoint(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == ids
    with Session(get_engine(url)) as s:
        assert s.execute(select(func.count()).select_from(DeliveryAttempt)).scalar_one() == N
        assert set(s.execute(select(Delivery.status, Delivery.attempts)).all()) == {("sending", 1)}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_delivery_being_claimed_is_passed_over_not_waited_for(settings):
    url = settings.database_url
    (delivery_id,) = pending(url, 1)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    with Session(get_engine(url)) as first, Session(get_engine(url)) as second:
        assert store.claim(first, delivery_id, now) is not None  # not committed yet: the row is locked
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # a claim that waited would fail here
        assert store.claim(second, delivery_id, now) is None
        first.commit()
        second.rollback()
        assert store.claim(second, delivery_id, now) is None  # and once committed it is taken
        assert store.status(second, delivery_id) == "sending"
