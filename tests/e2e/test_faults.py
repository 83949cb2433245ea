"""Fault tests of issue 11, section 6, with real processes on loopback: the same return uploaded
20 times at once, SMTP down for a while and then back, and two different returns for the same
provider and period racing (a restatement). Every process is stopped by PID, whatever happens;
every wait is a poll with a deadline."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import threading
from collections import Counter
from pathlib import Path

import httpx2
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.services import BIN, ApiServer, CeleryWorker, RedisServer, clean_env
from tests.peers import free_port, poll
from tests.peers.smtp import SMTPPeer

pytestmark = pytest.mark.e2e
RETURN = EXAMPLES / "kpi-2024-10.csv"
# The same provider and period as RETURN, other values: a restatement that opens, escalates and
# resolves alerts (cin_visits_on_time, placement_moves_3plus, single_assessments_45wd).
RESTATED = (RETURN.read_text().replace("PI1,68.8", "PI1,99.0").replace("PI2,74.1", "PI2,10.0")
            .replace("PI8,9.8", "PI8,40.0").encode())


def kpi_alerts(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def unfinished_deliveries(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, status FROM deliveries WHERE status IN ('pending', 'sending')")


def upload_at_once(url: str, token: str, files: list[tuple[str, bytes]]) -> list[httpx2.Response]:
    """POST every file to /api/returns from its own thread, all released together by a barrier."""
    barrier = threading.Barrier(len(files))
    answers: list[httpx2.Response | BaseException | None] = [None] * len(files)

    def upload(i: int) -> None:
        name, data = files[i]
        try:
            with httpx2.Client(base_url=url, timeout=120) as http:
                barrier.wait(timeout=30)
                answers[i] = http.post("/api/returns", files={"file": (name, data)},
                                       headers={"Authorization": f"Bearer {token}"})
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            answers[i] = exc

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "an upload did not finish within 180 s"
    errors = [a for a in answers if not isinstance(a, httpx2.Response)]
    assert not errors, errors
    return answers  # type: ignore[return-value]


def assert_clean_log(log: Path) -> None:
    text = log.read_text()
    assert "database is locked" not in text
    assert "Traceback" not in text and " 500" not in text, text[-3000:]


@pytest.fixture
def served(tmp_path):
    """`serve` in the embedded default (SQLite, no broker), with a token; stopped by PID after."""
    started: list[ApiServer] = []

    def serve(**settings: str) -> tuple[ApiServer, dict[str, str], str]:
        env = clean_env(database_url=f"sqlite:///{tmp_path / 'api.db'}", email_from="kpi@example.org", **settings)
        made = kpi_alerts(tmp_path, env, "tokens", "create", "uploader")
        assert made.returncode == 0, made.stderr
        started.append(ApiServer(tmp_path, env))
        return started[-1], env, made.stdout.strip()

    yield serve
    for server in started:
        server.stop()


def test_the_same_return_uploaded_20_times_at_once_is_stored_once_and_emailed_once(tmp_path, served, smtp_server):
    db = tmp_path / "api.db"
    server, env, token = served(email_url=smtp_server.apprise_url, allowed_hosts="127.0.0.1")
    assert kpi_alerts(tmp_path, env, "subscribe", "Lead", "--email", "lead@example.org").returncode == 0

    answers = upload_at_once(server.url, token, [(RETURN.name, RETURN.read_bytes())] * 20)

    codes = Counter(a.status_code for a in answers)
    assert codes == {201: 1, 200: 19}, [(a.status_code, a.text[:300]) for a in answers]
    assert {a.json()["return"]["id"] for a in answers} == {1}
    assert {a.json()["return"]["status"] for a in answers if a.status_code == 201} == {"accepted"}
    assert {a.json()["return"]["status"] for a in answers if a.status_code == 200} == {"duplicate"}
    assert rows(db, "SELECT count(*) FROM returns") == [(1,)]
    smtp_server.wait_for(1, timeout=60)
    poll(lambda: not unfinished_deliveries(db), 30, "no delivery pending or sending")
    assert len(smtp_server.messages) == 1, [m["Subject"] for _, _, m in smtp_server.messages]
    assert rows(db, "SELECT status FROM deliveries") == [("sent",)]
    (_, to, msg), = smtp_server.messages
    assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")
    server.stop()
    assert_clean_log(server.log)


def test_smtp_down_for_a_while_then_back_the_email_is_delivered_once(tmp_path):
    """Broker mode: the worker's first attempt is refused (nothing listens on the SMTP port), the
    delivery stays pending and is retried by the worker's own countdown (the backoff shortened
    to at most 1 s by the settings); the peer starts again on the same port and the email arrives
    exactly once."""
    db = tmp_path / "broker.db"
    peer = SMTPPeer(port=free_port())  # not started: its port refuses connections
    redis = RedisServer(tmp_path)
    worker = None
    try:
        env = clean_env(database_url=f"sqlite:///{db}", broker_url=redis.url, email_url=peer.apprise_url,
                        email_from="kpi@example.org", delivery_backoff_base="0.2", delivery_backoff_max="1",
                        delivery_max_attempts="100")
        upgraded = kpi_alerts(tmp_path, env, "db", "upgrade")  # with a broker nothing upgrades by itself
        assert upgraded.returncode == 0, upgraded.stderr
        assert kpi_alerts(tmp_path, env, "subscribe", "Lead", "--email", "lead@example.org").returncode == 0
        worker = CeleryWorker(tmp_path, env, ROOT)  # a bare worker consumes all three queues
        landed = kpi_alerts(tmp_path, env, "ingest", "--json", "--wait", "60", str(RETURN))
        assert landed.returncode == 0, landed.stderr
        assert json.loads(landed.stdout)["return"]["evaluation"] == "done"

        def retrying() -> bool:
            found = rows(db, "SELECT status, attempts, last_error FROM deliveries")
            return len(found) == 1 and found[0][0] in ("pending", "sending") and found[0][1] >= 3
        poll(retrying, 60, "the delivery pending after three refused attempts")
        (status, attempts, error), = rows(db, "SELECT status, attempts, last_error FROM deliveries")
        assert error and peer.attempts == 0
        print(f"SMTP down: {attempts} attempts refused, delivery {status}: {error}")

        peer.start()  # back, on the same port
        (_, to, msg), = peer.wait_for(1, timeout=60)
        assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")
        poll(lambda: rows(db, "SELECT status FROM deliveries") == [("sent",)], 30, "the delivery marked sent")
        flushed = kpi_alerts(tmp_path, env, "deliveries", "flush")  # what beat's sweep does: nothing is due
        assert flushed.returncode == 0, flushed.stderr
        poll(lambda: not unfinished_deliveries(db), 10, "no delivery pending or sending")
        assert len(peer.messages) == 1 and peer.attempts == 1
        assert peer.by_notification_id() == Counter({msg["X-Notification-Id"]: 1})
    finally:
        if worker is not None:
            worker.stop()
        peer.stop()
        redis.stop()
    assert "database is locked" not in worker.log.read_text()


def outcome(db: Path) -> dict:
    """What the two returns left, return by return in the order they were stored."""
    ids = [r for r, in rows(db, "SELECT id FROM returns ORDER BY id")]
    shas = [s for s, in rows(db, "SELECT sha256 FROM returns ORDER BY id")]
    events = [rows(db, "SELECT rule_id, subject, from_state, to_state, kind, period, value FROM alert_events "
                       "WHERE return_id = ? ORDER BY rule_id, subject, kind", i) for i in ids]
    return {
        "shas": shas,
        "events": events,
        "alerts": rows(db, "SELECT rule_id, subject, state, period, value, since_period FROM alerts "
                           "ORDER BY rule_id, subject"),
        "ratings": rows(db, "SELECT rule_id, subject, period, value, rating FROM ratings WHERE current "
                            "ORDER BY rule_id, subject, period"),
        "rating_returns": {ids.index(r) for r, in rows(db, "SELECT DISTINCT return_id FROM ratings WHERE current")},
        "observation_returns": {ids.index(r) for r, in
                                rows(db, "SELECT DISTINCT return_id FROM observations WHERE current")},
    }


def test_two_different_returns_for_one_period_racing_end_in_the_later_stored_ones_state(tmp_path, served):
    """Both land and are rated; then the race's outcome is compared with a clean sequential run of
    the same two in the order the race stored them (returns.id): the same current ratings (the
    later-stored one's), alerts and transitions, each return's its own. (Before evaluations were
    ordered, 7 runs of 8 differed: an evaluation rated the period's current observations, which
    could be the other return's.) received_at agrees with store order."""
    db = tmp_path / "api.db"
    server, env, token = served()
    original = RETURN.read_bytes()
    answers = upload_at_once(server.url, token, [("kpi-2024-10.csv", original), ("kpi-2024-10b.csv", RESTATED)])
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert sorted(a.json()["return"]["status"] for a in answers) == ["accepted", "restated"]
    assert {a.json()["return"]["evaluation"] for a in answers} == {"done"}
    raced = outcome(db)
    assert len(raced["shas"]) == 2
    assert rows(db, "SELECT count(*) FROM returns WHERE evaluated_at IS NULL") == [(0,)]
    assert raced["observation_returns"] == {1}  # the later-stored submission's rows are current

    # a clean run: the same two, one after the other, in the order the race stored them
    by_sha = {hashlib.sha256(b).hexdigest(): (n, b) for n, b in (("a.csv", original), ("b.csv", RESTATED))}
    clean_db = tmp_path / "clean.db"
    clean_env_ = clean_env(database_url=f"sqlite:///{clean_db}", email_from="kpi@example.org")
    for sha in raced["shas"]:
        name, data = by_sha[sha]
        (tmp_path / name).write_bytes(data)
        res = kpi_alerts(tmp_path, clean_env_, "ingest", "--json", str(tmp_path / name))
        assert res.returncode == 0, res.stderr
    clean = outcome(clean_db)
    assert clean["shas"] == raced["shas"] and clean["rating_returns"] == {1}
    assert all(clean["events"])  # both moved alerts: the comparison says something
    server.stop()
    assert_clean_log(server.log)

    for key in ("rating_returns", "ratings", "alerts", "events"):
        assert raced[key] == clean[key], key
    received = rows(db, "SELECT received_at FROM returns ORDER BY id")
    assert received == sorted(received)
