"""Issue 18, section 2, "no silent stop", on the production shape run natively (tests/e2e/stack.py):
Redis without persistence restarted four times (`redis-cli shutdown nosave`, then started again
on the same port, empty: no queue, no beat schedule, no lock). During each outage a return lands
through the API (201: the API never depends on the broker); once Redis is back, beat schedules
again by itself, the relay publishes the return, it is rated and each subscriber notified once,
all within a minute; /healthz names a stale scheduler (503) and is 200 again after."""

from __future__ import annotations

import time

import httpx2
import pytest
import redis

from config import Settings
from tests.e2e.stack import Stack
from tests.peers import poll
from tests.peers.postgres import running_cluster
from workers.app import beat_schedule

pytestmark = pytest.mark.e2e
RESTARTS = 4
RECOVERY = 60.0  # seconds: the "within a minute of Redis coming back"


@pytest.fixture(scope="module")
def cluster():
    with running_cluster() as pg:
        yield pg


def healthz(s: Stack) -> tuple[int, dict]:
    with httpx2.Client(base_url=s.api.url, timeout=10) as http:
        answer = http.get("/healthz")
        return answer.status_code, answer.json()


def scheduled(s: Stack) -> set[bytes]:
    """The entries of beat's schedule in Redis (RedBeat's sorted set)."""
    return set(redis.Redis.from_url(s.redis.url).zrange("kpi-alerts:redbeat::schedule", 0, -1))


def test_beat_recovers_after_each_of_four_redis_restarts_without_persistence(tmp_path, cluster):
    s = Stack(tmp_path, cluster, workers=1, redis_persist=False, beat_interval_seconds="2")
    try:
        schedule = {f"kpi-alerts:redbeat:{name}".encode()
                    for name in beat_schedule(Settings(database_url=s.url, broker_url=s.redis.url))}
        s.cli("subscribe", "Lead", "--email", "lead@example.org")
        s.cli("subscribe", "Board", "--email", "board@example.org")
        poll(lambda: healthz(s)[0] == 200, 30, "/healthz 200 with beat ticking")
        assert healthz(s)[1]["scheduler"]["status"] == "ok"
        assert scheduled(s) >= schedule
        survived = 0
        for i in range(RESTARTS):
            s.stop_redis(nosave=True)
            answer = s.upload(f"p{i}.csv", f"provider,period,indicator,value\nrestart{i},2024-10,PI1,60\n".encode())
            assert answer.status_code == 201, answer.text
            assert answer.json()["return"]["evaluation"] == "pending"
            return_id = answer.json()["return"]["id"]
            assert healthz(s)[0] == 503  # the broker is away
            s.start_redis()
            back = time.monotonic()
            poll(lambda rid=return_id: s.sql("SELECT evaluated_at FROM returns WHERE id = %s", rid)[0][0], RECOVERY,
                 f"restart {i + 1}: the return landed during the outage rated")
            s.smtp.wait_for(2 * (i + 1), timeout=max(1.0, RECOVERY - (time.monotonic() - back)))
            subjects = [m["Subject"].lower() for _, _, m in s.smtp.messages]
            assert sum(f"restart{i}" in subject for subject in subjects) == 2, subjects  # Lead and Board
            # beat schedules again: its whole schedule back in Redis, its tick fresh on /healthz
            poll(lambda: healthz(s)[0] == 200, max(1.0, RECOVERY - (time.monotonic() - back)),
                 f"restart {i + 1}: /healthz 200 again")
            assert healthz(s)[1]["scheduler"]["status"] == "ok"
            assert scheduled(s) >= schedule  # the digest, the sweep, the reminders too, not only the relay
            assert time.monotonic() - back <= RECOVERY
            survived += 1
            print(f"restart {i + 1}: rated, notified and healthy {time.monotonic() - back:.1f} s after Redis came back")
        print(f"Redis restarts survived: {survived} of {RESTARTS}")
        s.wait_settled(30)
        emails = s.smtp.by_notification_id()
        assert len(emails) == 2 * RESTARTS and set(emails.values()) == {1}, emails  # each notified once
        assert s.beat.proc.poll() is None, s.beat.log.read_text()[-3000:]  # the same beat throughout
        assert s.sql("SELECT count(*) FROM returns WHERE evaluated_at IS NULL") == [(0,)]
    finally:
        s.close()


def test_healthz_names_a_stale_scheduler_and_is_healthy_again_when_it_ticks(tmp_path, cluster):
    """Beat stopped (SIGSTOP: alive but not ticking): /healthz 503 naming the scheduler once its
    last tick is older than two intervals; 200 again once it ticks."""
    import signal

    s = Stack(tmp_path, cluster, workers=1, beat_interval_seconds="1")
    try:
        poll(lambda: healthz(s)[0] == 200, 30, "/healthz 200 with beat ticking")
        s.beat.proc.send_signal(signal.SIGSTOP)
        try:
            poll(lambda: healthz(s)[0] == 503, 15, "/healthz 503 with beat stopped")
            status, body = healthz(s)
            assert body["scheduler"]["status"] == "stale" and body["scheduler"]["age_seconds"] >= 2, body
            assert body["database"] == "ok" and body["broker"] == "ok"
            with httpx2.Client(base_url=s.api.url, timeout=10) as http:
                metrics = http.get("/metrics").text
            line = next(x for x in metrics.splitlines() if x.startswith("kpi_alerts_scheduler_last_tick_age_seconds"))
            assert float(line.split()[-1]) > 2, line
        finally:
            s.beat.proc.send_signal(signal.SIGCONT)
        poll(lambda: healthz(s)[0] == 200, 30, "/healthz 200 once beat ticks again")
    finally:
        s.close()
