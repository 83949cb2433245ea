"""Workers and beat check the rule packs at start-up and refuse to start on a failing pack:
every problem as FILE:LINE: message, a non-zero exit, before any broker is needed (the broker
URL points at a closed loopback port: without the check the worker would retry it forever)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.store.schema import HEAD

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the socket is: nothing listens there


@pytest.mark.parametrize("command", [["worker", "--pool", "solo"], ["beat"]])
def test_a_failing_pack_stops_workers_and_beat(command, tmp_path):
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "bad.yaml").write_text("pack: demo\ntitle: One\ntitle: Two\n")
    env = {**os.environ, "KPI_ALERTS_RULES_DIR": str(packs),
           "KPI_ALERTS_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
           "KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    extra = ["--schedule", str(tmp_path / "beat-schedule")] if command == ["beat"] else []
    done = subprocess.run([str(CELERY), "-A", "workers.app", *command, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 78, done.stderr[-2000:]
    assert f"{packs / 'bad.yaml'}:3: duplicate key 'title' (first at line 2)" in done.stderr.splitlines()
    assert "refusing to start: 1 problem(s) in the rule packs" in done.stderr


@pytest.mark.parametrize("command", [["worker", "--pool", "solo"], ["beat"]])
def test_a_database_behind_the_code_stops_workers_and_beat(command, tmp_path):
    """With a broker set nothing upgrades by itself: a database not at the latest revision (here
    an empty one) is refused with what to run, exit 78, before any broker is needed."""
    env = {**os.environ, "KPI_ALERTS_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0",
           "KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    env.pop("KPI_ALERTS_RULES_DIR", None)
    extra = ["--schedule", str(tmp_path / "beat-schedule")] if command == ["beat"] else []
    done = subprocess.run([str(CELERY), "-A", "workers.app", *command, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 78, done.stderr[-2000:]
    assert ("kpi-alerts: refusing to start: database at revision none (empty), the code needs "
            f"{HEAD}: run `kpi-alerts db upgrade`") in done.stderr
