"""`kpi-alerts serve` with KPI_ALERTS_METRICS_PORT: /metrics answers on that port (its own
server, loopback) and not on the app's port, for a loopback client either."""

from __future__ import annotations

import socket
import subprocess

import httpx2
import pytest

from tests.e2e.services import BIN, ApiServer, clean_env, port_open
from tests.peers import free_port, poll

pytestmark = pytest.mark.e2e


def test_metrics_on_their_own_port_only(tmp_path):
    metrics_port = free_port()
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'api.db'}", metrics_port=str(metrics_port))
    upgraded = subprocess.run([str(BIN / "kpi-alerts"), "db", "upgrade"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
    server = ApiServer(tmp_path, env)
    try:
        poll(lambda: port_open(metrics_port), 10, "the metrics port")
        with httpx2.Client(timeout=10) as http:
            own = http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert own.status_code == 200 and "kpi_alerts_returns_stored" in own.text
            assert http.get(f"{server.url}/metrics").status_code == 404
            assert http.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()


def test_a_taken_metrics_port_stops_serve_with_a_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = clean_env(database_url=f"sqlite:///{tmp_path / 'api.db'}", metrics_port=str(taken.getsockname()[1]))
        assert subprocess.run([str(BIN / "kpi-alerts"), "db", "upgrade"], cwd=tmp_path, env=env,
                              capture_output=True, timeout=60).returncode == 0
        done = subprocess.run([str(BIN / "kpi-alerts"), "serve", "--port", str(free_port())], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "cannot serve metrics on 127.0.0.1:" in done.stderr, done.stderr
