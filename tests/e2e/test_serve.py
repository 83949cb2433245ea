"""`kpi-alerts serve` as a real uvicorn process on loopback: a return uploaded over HTTP
reaches a subscriber's inbox (the SMTP peer), the email's own unsubscribe link works, huge
bodies are refused unread, and no token reaches the log."""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.services import BIN, ApiServer, CeleryWorker, RedisServer, clean_env
from tests.peers import free_port, poll

pytestmark = pytest.mark.e2e
LIMIT_MB = 1


def kpi_alerts(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def raw_request(port: int, head: bytes, body_chunks: int = 0, chunk: bytes = b"") -> tuple[bytes, int]:
    """Send a request head, then up to `body_chunks` chunks while no answer has come; the
    answer's first bytes and how many body bytes were sent before it arrived."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        for _ in range(body_chunks):
            if select.select([s], [], [], 0)[0]:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.settimeout(10)
        try:
            return s.recv(4096), sent
        except ConnectionResetError:
            return b"", sent


@pytest.fixture
def embedded(tmp_path, smtp_server):
    """The embedded default served: SQLite, tasks in-process, email to the SMTP peer; the links
    in emails point at the server itself."""
    port = free_port()
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'api.db'}", email_url=smtp_server.apprise_url,
                    email_from="kpi@example.org", base_url=f"http://127.0.0.1:{port}", max_upload_mb=str(LIMIT_MB))
    made = kpi_alerts(tmp_path, env, "tokens", "create", "sandwell-performance")
    assert made.returncode == 0, made.stderr
    subscribed = kpi_alerts(tmp_path, env, "subscribe", "Lead", "--email", "lead@example.org")
    assert subscribed.returncode == 0, subscribed.stderr
    server = ApiServer(tmp_path, env, port)
    yield server, env, made.stdout.strip()
    server.stop()


def test_an_upload_over_http_reaches_the_subscriber_and_its_unsubscribe_link_works(tmp_path, embedded, smtp_server):
    server, env, token = embedded
    auth = {"Authorization": f"Bearer {token}"}
    path = EXAMPLES / "kpi-2024-10.csv"
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        res = http.post("/api/returns", files={"file": (path.name, path.read_bytes())}, headers=auth)
        assert res.status_code == 201, res.text
        body = res.json()
        assert (body["return"]["status"], body["return"]["evaluation"]) == ("accepted", "done")
        assert {"rule": "single_assessments_45wd", "subject": "sandwell", "from": None, "to": "red",
                "kind": "opened", "period": "2024-10"} in body["transitions"]
        (_, to, msg), = smtp_server.wait_for(1, timeout=30)
        assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")

        again = http.post("/api/returns", files={"file": ("again.csv", path.read_bytes())}, headers=auth)
        assert again.status_code == 200 and again.json()["return"]["status"] == "duplicate"
        assert http.post("/api/returns", files={"file": (path.name, path.read_bytes())}).status_code == 401
        rejected = http.post("/api/returns", files={"file": ("kpi.csv", b"provider,period\n")}, headers=auth)
        assert rejected.status_code == 422 and rejected.json()["errors"][0].startswith("kpi.csv:1:")

        # the email's own one-click link (RFC 8058), against this server
        link = msg["List-Unsubscribe"].strip("<>")
        assert link.startswith(f"{server.url}/unsubscribe?token=") and msg["List-Unsubscribe-Post"] == (
            "List-Unsubscribe=One-Click")
        unsubscribe_token = link.split("token=", 1)[1]
        page = http.get(link)
        assert page.status_code == 200 and 'method="post"' in page.text
        listed = json.loads(kpi_alerts(tmp_path, env, "subscriptions", "--json").stdout)
        assert len(listed) == 1  # the GET changed nothing
        tampered = http.post(link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
                             data={"List-Unsubscribe": "One-Click"})
        assert tampered.status_code == 400
        assert len(json.loads(kpi_alerts(tmp_path, env, "subscriptions", "--json").stdout)) == 1
        done = http.post(link, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and not done.headers.get("location")
        assert json.loads(kpi_alerts(tmp_path, env, "subscriptions", "--json").stdout) == []

        health = http.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"database": "ok", "broker": "not configured",
                                                             "scheduler": "not configured"})
        metrics = http.get("/metrics").text
        for name in ("kpi_alerts_returns_landed_total", "kpi_alerts_returns_rejected_total",
                     "kpi_alerts_evaluation_latency_seconds_bucket", "kpi_alerts_notifications",
                     "kpi_alerts_queue_depth", "kpi_alerts_oldest_pending_delivery_age_seconds"):
            assert name in metrics
        assert 'kpi_alerts_notifications{channel="email",status="sent"} 1.0' in metrics
        assert http.get("/docs").status_code == 303  # KPI_ALERTS_API_DOCS=signed_in: sign in first

    listed = json.loads(kpi_alerts(tmp_path, env, "returns", "pending", "--json").stdout)
    assert listed == []
    server.stop()
    log = server.log.read_text()
    assert '"POST /api/returns HTTP/1.1" 201' in log and "/unsubscribe?token=****" in log
    assert token not in log and unsubscribe_token not in log
    assert "Logging error" not in log and "Traceback" not in log


def test_a_huge_body_is_refused_with_413_before_it_is_read(embedded):
    server, _, token = embedded
    head = (f"POST /api/returns HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n")
    started = time.monotonic()
    answer, _ = raw_request(server.port, (head + f"Content-Length: {2 * 1024 ** 3}\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 5
    # no Content-Length: chunked, stopped once the limit has arrived, not at the end
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="kpi.csv"\r\n\r\n'
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
    answer, sent = raw_request(server.port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                               + b"%x\r\n%s\r\n" % (len(part), part), body_chunks=32 * 1024, chunk=chunk)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent < 20 * LIMIT_MB * 1024 * 1024  # 2 GB offered; stopped within a few buffers of the limit
    assert server.proc.poll() is None
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200  # still serving


def test_broker_mode_wait_and_health(tmp_path, smtp_server):
    """With Redis and a real Celery worker: `?wait` returns once the worker has rated the
    return; without a worker the upload still answers 201, evaluation pending, and the queue
    shows it; healthz checks Redis."""
    redis = RedisServer(tmp_path)
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'broker.db'}", broker_url=redis.url,
                    email_url=smtp_server.apprise_url, email_from="kpi@example.org", allowed_hosts="127.0.0.1")
    server = worker = None
    try:
        assert kpi_alerts(tmp_path, env, "db", "upgrade").returncode == 0  # production: nothing upgrades by itself
        token = kpi_alerts(tmp_path, env, "tokens", "create", "uploader").stdout.strip()
        assert kpi_alerts(tmp_path, env, "subscribe", "Lead", "--email", "lead@example.org").returncode == 0
        server = ApiServer(tmp_path, env)
        auth = {"Authorization": f"Bearer {token}"}
        with httpx2.Client(base_url=server.url, timeout=90) as http:
            # no beat here: nothing has ticked, so /healthz names the scheduler (tests/e2e/test_beat_recovery.py)
            assert http.get("/healthz").json() == {"database": "ok", "broker": "ok", "scheduler": {
                "status": "stale", "last_tick": None, "age_seconds": None}}
            started = time.monotonic()
            first = http.post("/api/returns?wait=0.5", headers=auth,
                              files={"file": ("kpi-2024-10.csv", (EXAMPLES / "kpi-2024-10.csv").read_bytes())})
            assert first.status_code == 201
            assert time.monotonic() - started >= 0.5
            assert (first.json()["return"]["evaluation"], first.json()["evaluations"]) == ("pending", [])
            depths = re.findall(r"^kpi_alerts_queue_depth\{queue=\"\w+\"\} (\S+)$", http.get("/metrics").text, re.M)
            assert sum(float(d) for d in depths) >= 1  # the evaluate task waits in Redis

            worker = CeleryWorker(tmp_path, env, ROOT)
            second = http.post("/api/returns?wait=60", headers=auth,
                               files={"file": ("kpi-2024-11.csv", (EXAMPLES / "kpi-2024-11.csv").read_bytes())})
            assert second.status_code == 201
            assert second.json()["return"]["evaluation"] == "done" and len(second.json()["evaluations"]) == 15
            poll(lambda: json.loads(kpi_alerts(tmp_path, env, "returns", "pending", "--json").stdout) == [], 60,
                 "the first return rated by the worker")
            smtp_server.wait_for(1, timeout=60)
        redis.stop()
        with httpx2.Client(base_url=server.url, timeout=30) as http:
            down = http.get("/healthz")
            assert (down.status_code, down.json()) == (503, {"database": "ok", "broker": "unreachable", "scheduler": {
                "status": "stale", "last_tick": None, "age_seconds": None}})
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.stop()
        if redis.proc.poll() is None:
            redis.stop()
    assert "kpi_alerts.evaluate_return" in worker.log.read_text()
