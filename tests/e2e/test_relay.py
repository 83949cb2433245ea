"""Never depend on the broker being up (issue 11, section 2), with real processes on loopback:
redis-server stopped while a return lands, and a published evaluation whose message was lost (a
worker killed whole). Every process is stopped by PID. (Two beats started by mistake, and the
rest of section 6 on PostgreSQL: tests/e2e/test_stack.py.)"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alerts.store.schema import upgrade_url
from tests.conftest import EXAMPLES, ROOT, sqlite_url
from tests.e2e.services import RedisServer
from tests.peers import free_port, poll

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
RETURN = str(EXAMPLES / "kpi-2024-10.csv")


class Processes:
    """Celery workers and beats started for one test, each logging to its own file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.tmp_path, self.env = tmp_path, env
        self.procs: list[tuple[subprocess.Popen, object]] = []

    def start(self, name: str, *args: str) -> Path:
        log_path = self.tmp_path / f"{name}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen([str(BIN / "celery"), *args], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return log_path

    def worker(self, name: str = "worker") -> Path:
        return self.start(name, "-A", "workers.app", "worker", "-Q", "evaluate,deliver,digest", "--pool=solo",
                          "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "-n", f"{name}@%h")

    def beat(self, name: str, app: str = "workers.app") -> Path:
        return self.start(name, "-A", app, "beat", "--loglevel=INFO", "-s", str(self.tmp_path / f"{name}-schedule"))

    def stop(self, proc: subprocess.Popen | None = None) -> None:
        for p, log in list(self.procs):
            if proc is not None and p is not proc:
                continue
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
            log.close()  # type: ignore[attr-defined]
            self.procs.remove((p, log))


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path, {})
    yield started
    started.stop()


def environment(tmp_path: Path, broker_url: str, smtp_server=None, db: Path | None = None, **more: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({"KPI_ALERTS_DATABASE_URL": sqlite_url(db or tmp_path / "relay.db"), "KPI_ALERTS_BROKER_URL": broker_url,
                "KPI_ALERTS_EMAIL_FROM": "kpi@example.org", **more})
    if smtp_server is not None:
        env["KPI_ALERTS_EMAIL_URL"] = smtp_server.apprise_url
    upgrade_url(env["KPI_ALERTS_DATABASE_URL"])  # what `kpi-alerts db upgrade` does before the servers start
    return env


def kpi_alerts(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def pending(env: dict, cwd: Path) -> list[dict]:
    res = kpi_alerts(env, cwd, "returns", "pending", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def published_at(db: Path, return_id: int) -> str | None:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT published_at FROM returns WHERE id = ?", (return_id,)).fetchone()[0]


def events_of(db: Path, return_id: int) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM alert_events WHERE return_id = ?", (return_id,)).fetchone()[0]


def test_redis_down_at_ingest_delays_the_evaluation_and_loses_nothing(tmp_path, smtp_server, processes):
    port = free_port()  # nothing listens here yet: Redis is down
    env = environment(tmp_path, f"redis://127.0.0.1:{port}/0", smtp_server)
    processes.env = env
    assert kpi_alerts(env, tmp_path, "subscribe", "Lead", "--email", "lead@example.org").returncode == 0

    started = time.monotonic()
    res = kpi_alerts(env, tmp_path, "ingest", "--json", RETURN)
    took = time.monotonic() - started
    print(f"ingest with Redis down: {took:.2f} s (process start, landing, the refused publication)")
    assert res.returncode == 0, res.stderr
    assert took < 10, took
    out = json.loads(res.stdout)
    assert (out["return"]["status"], out["return"]["evaluation"], out["return"]["evaluation_error"]) == (
        "accepted", "pending", None)
    assert out["evaluations"] == [] and out["transitions"] == []
    assert "the broker is unreachable" in res.stderr and "queued for the relay" in res.stderr
    assert "Traceback" not in res.stderr
    return_id = out["return"]["id"]
    assert [p["id"] for p in pending(env, tmp_path)] == [return_id]
    assert published_at(tmp_path / "relay.db", return_id) is None

    redis = RedisServer(tmp_path, port=port)  # Redis is back, on the same address
    try:
        worker_log = processes.worker()  # its first act is the relay: no beat needed
        poll(lambda: pending(env, tmp_path) == [], 60, "the return evaluated by the worker")
        (_, to, msg), = smtp_server.wait_for(1, timeout=60)
        assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")
        assert published_at(tmp_path / "relay.db", return_id) is not None
        time.sleep(1.0)  # nothing more arrives
        assert len(smtp_server.messages) == 1
        assert "relay: published 1 return(s) awaiting evaluation" in worker_log.read_text()
    finally:
        processes.stop()
        redis.stop()


def test_a_published_evaluation_no_worker_finished_is_re_published_and_evaluated_once(tmp_path, smtp_server,
                                                                                      processes):
    import redis as redis_client

    server = RedisServer(tmp_path)
    db = tmp_path / "relay.db"
    env = environment(tmp_path, server.url, smtp_server, KPI_ALERTS_RELAY_SECONDS="1",
                      KPI_ALERTS_RELAY_STALE_SECONDS="3")
    processes.env = env
    try:
        assert kpi_alerts(env, tmp_path, "subscribe", "Lead", "--email", "lead@example.org").returncode == 0
        res = kpi_alerts(env, tmp_path, "ingest", "--json", "--wait", "0.2", RETURN)
        assert res.returncode == 0, res.stderr
        return_id = json.loads(res.stdout)["return"]["id"]
        first = published_at(db, return_id)
        assert first is not None  # published, queued on `evaluate`
        r = redis_client.Redis.from_url(server.url)
        assert r.llen("evaluate") == 1
        r.delete("evaluate")  # the worker that took it was killed whole: its message is gone for an hour
        processes.beat("beat")
        processes.worker()
        poll(lambda: pending(env, tmp_path) == [], 60, "the stale return re-published and evaluated")
        smtp_server.wait_for(1, timeout=60)
        assert published_at(db, return_id) > first
        time.sleep(2.5)  # more relay runs: nothing is published or sent again
        assert len(smtp_server.messages) == 1
        clean = environment(tmp_path, "", db=tmp_path / "clean.db")  # the same return, in-process
        assert events_of(db, return_id) == len(json.loads(kpi_alerts(clean, tmp_path, "ingest", "--json", RETURN)
                                                          .stdout)["transitions"]) > 0
    finally:
        processes.stop()
        server.stop()
