"""Issue 18, "no silent stop": /healthz reports beat's last tick and answers 503 naming the
scheduler when it is older than two intervals; /metrics exports its age. The clock is injected
(time-machine); the broker a real redis-server, so only the scheduler can make /healthz fail."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import time_machine

from alerts.api.health import scheduler_health
from alerts.store.db import session_for
from alerts.store.heartbeats import SCHEDULER, record
from tests.api.test_health_metrics import samples, scrape
from tests.conftest import NOW
from tests.e2e.services import RedisServer

AGE = ("kpi_alerts_scheduler_last_tick_age_seconds", ())


@pytest.mark.parametrize(("age", "status"), [(0.0, "ok"), (10.0, "ok"), (10.1, "stale"), (3600.0, "stale")])
def test_the_scheduler_is_stale_once_its_last_tick_is_older_than_two_intervals(age, status):
    tick = NOW - dt.timedelta(seconds=age)
    assert scheduler_health(tick, NOW, 5.0) == {"status": status, "last_tick": tick.isoformat(), "age_seconds": age}


def test_a_scheduler_that_never_ticked_is_stale():
    assert scheduler_health(None, NOW, 5.0) == {"status": "stale", "last_tick": None, "age_seconds": None}


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_healthz_names_a_stale_scheduler_with_503_and_metrics_export_its_age(make_api, redis):
    api = make_api(broker_url=redis.url, beat_interval_seconds=5)
    with time_machine.travel(NOW, tick=False) as clock:
        res = api.client.get("/healthz")  # beat never ticked: nothing schedules the relay
        assert res.status_code == 503
        assert res.json() == {"database": "ok", "broker": "ok",
                              "scheduler": {"status": "stale", "last_tick": None, "age_seconds": None}}
        assert samples(scrape(api).text)[AGE] == math.inf

        with session_for(api.settings.database_url) as session:
            record(session, SCHEDULER, NOW)  # what beat's tick does
        clock.shift(dt.timedelta(seconds=3))
        res = api.client.get("/healthz")
        assert (res.status_code, res.json()["scheduler"]) == (
            200, {"status": "ok", "last_tick": NOW.isoformat(), "age_seconds": 3.0})
        assert samples(scrape(api).text)[AGE] == 3.0

        clock.shift(dt.timedelta(seconds=8))  # 11 s: older than two intervals of 5 s
        res = api.client.get("/healthz")
        assert (res.status_code, res.json()) == (503, {"database": "ok", "broker": "ok", "scheduler": {
            "status": "stale", "last_tick": NOW.isoformat(), "age_seconds": 11.0}})
        assert samples(scrape(api).text)[AGE] == 11.0

        with session_for(api.settings.database_url) as session:
            record(session, SCHEDULER, NOW + dt.timedelta(seconds=11))  # beat ticks again
        assert api.client.get("/healthz").status_code == 200


def test_without_a_broker_there_is_no_scheduler_and_healthz_stays_200(api):
    res = api.client.get("/healthz")
    assert (res.status_code, res.json()) == (200, {"database": "ok", "broker": "not configured",
                                                   "scheduler": "not configured"})
    assert math.isnan(samples(scrape(api).text)[AGE])
