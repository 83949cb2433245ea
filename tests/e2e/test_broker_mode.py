"""Broker mode: a return lands via the CLI, a real Celery worker (on real Redis) evaluates it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.services import RedisServer

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_worker_evaluates_returns_landed_by_the_cli(tmp_path, redis, smtp_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({"KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}", "KPI_ALERTS_BROKER_URL": redis.url,
                "KPI_ALERTS_EMAIL_URL": smtp_server.apprise_url, "KPI_ALERTS_EMAIL_FROM": "kpi@example.org"})
    migrated = subprocess.run([str(BIN / "kpi-alerts"), "db", "upgrade"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # with a broker nothing upgrades by itself
    assert migrated.returncode == 0, migrated.stderr
    subscribed = subprocess.run([str(BIN / "kpi-alerts"), "subscribe", "Lead", "--email", "lead@example.org"],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert subscribed.returncode == 0, subscribed.stderr
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "workers.app", "worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        res = subprocess.run([str(BIN / "kpi-alerts"), "ingest", "--json", "--wait", "60",
                              str(EXAMPLES / "kpi-2024-10.csv")], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["return"]["status"] == "accepted"
        assert len(out["evaluations"]) == 15
        assert {"rule": "single_assessments_45wd", "subject": "sandwell", "from": None, "to": "red",
                "kind": "opened", "period": "2024-10"} in out["transitions"]
        (_, to, msg), = smtp_server.wait_for(1, timeout=60)  # the worker's deliver task sent it
        assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    worker_log = (tmp_path / "worker.log").read_text()
    assert "kpi_alerts.evaluate_return" in worker_log and "succeeded" in worker_log  # the worker did it, not the CLI
    assert "kpi_alerts.deliver" in worker_log
    assert len(smtp_server.messages) == 1


def test_a_return_no_worker_has_evaluated_is_marked_pending(tmp_path, redis):
    """Broker up, no worker yet: the return is stored and queued, `ingest --json` says its
    evaluation is pending (not "0 ratings" as if it had been rated), and `returns pending` lists it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({"KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}", "KPI_ALERTS_BROKER_URL": redis.url})

    def kpi_alerts(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)

    assert kpi_alerts("db", "upgrade").returncode == 0  # with a broker nothing upgrades by itself
    res = kpi_alerts("ingest", "--json", "--wait", "0.3", str(EXAMPLES / "kpi-2024-10.csv"))
    assert res.returncode == 0, res.stderr  # queued is not a failure: a worker will rate it
    out = json.loads(res.stdout)
    assert (out["return"]["status"], out["return"]["evaluation"], out["return"]["evaluation_error"]) == (
        "accepted", "pending", None)
    assert out["evaluations"] == [] and out["transitions"] == []
    text = kpi_alerts("ingest", "--wait", "0.3", str(EXAMPLES / "kpi-2024-11.csv"))
    assert "evaluation pending (queued; no worker finished it within 0.3 s)" in text.stdout
    pending = json.loads(kpi_alerts("returns", "pending", "--json").stdout)
    assert [p["periods"] for p in pending] == [["2024-10"], ["2024-11"]]
