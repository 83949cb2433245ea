"""Issue 18, "no silent stop", embedded default (no broker): a return whose in-process evaluation
was killed with its process (landed and marked handed on, never rated) is evaluated at once by a
re-ingest of the same bytes, which says so; there is no worker to wait for. (Issue 10 waited
KPI_ALERTS_RELAY_STALE_SECONDS for a worker that does not exist.)"""

from __future__ import annotations

import json
import time

import pytest

from alerts.store.db import session_for
from alerts.store.landing import get_return
from alerts.store.models import utcnow
from alerts.usecases.ingest import ReturnLimits, ingest_bytes
from config import Settings
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.conftest import EXAMPLES

RETURN = EXAMPLES / "kpi-2024-10.csv"


class Killed(BaseException):
    """The process dies mid-evaluation: nothing after it runs (no except Exception, no release)."""


def kill_mid_evaluation(url: str) -> int:
    """Land RETURN as `ingest` does, and die as its in-process evaluation starts: what a SIGKILL
    leaves (the landing committed, marked handed on; the evaluation's transaction gone)."""
    settings = Settings(database_url=url, broker_url="", rules_dir=SHIPPED_PACKS)

    def dies(return_id: int, claimed: bool = False):  # noqa: ANN202
        raise Killed

    with session_for(url) as session, pytest.raises(Killed):
        ingest_bytes(session, load_catalog(SHIPPED_PACKS), str(RETURN), RETURN.read_bytes(), dies, utcnow(),
                     limits=ReturnLimits.of(settings), in_flight_seconds=settings.in_flight_seconds)
    with session_for(url) as session:
        rec = get_return(session, 1)  # the first return of a new database
        assert rec is not None and rec.published_at is not None and rec.evaluated_at is None  # in flight, for ever
        return rec.id


def test_a_re_ingest_evaluates_at_once_a_return_whose_evaluation_was_killed(cli, new_database):
    return_id = kill_mid_evaluation(new_database("cli.db"))
    assert [p["id"] for p in json.loads(cli("returns", "pending", "--json").stdout)] == [return_id]

    started = time.monotonic()
    res = cli("ingest", "--json", str(RETURN))  # the default --wait 60: nothing waits on it
    took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    assert took < 20, took  # evaluated at once, not after a 60 s wait for a worker that does not exist
    out = json.loads(res.stdout)
    assert (out["return"]["id"], out["return"]["status"], out["return"]["evaluation"]) == (
        return_id, "accepted", "done")
    assert len(out["evaluations"]) == 15 and out["transitions"]
    assert (f"return {return_id} was stored before but its evaluation did not finish "
            "(its process stopped, or the evaluation failed): evaluated now") in res.stderr
    assert "no worker finished it" not in res.stdout + res.stderr
    assert json.loads(cli("returns", "pending", "--json").stdout) == []

    again = cli("ingest", "--json", str(RETURN))  # rated now: a plain duplicate, nothing re-run
    assert again.returncode == 0 and json.loads(again.stdout)["return"]["status"] == "duplicate"
    assert "evaluated now" not in again.stderr


def test_with_a_broker_a_duplicate_still_waits_for_the_worker_that_may_have_it():
    s = Settings(database_url="sqlite://", broker_url="redis://127.0.0.1:1/0", relay_stale_seconds=600)
    assert s.in_flight_seconds == 600
    assert Settings(database_url="sqlite://", broker_url="").in_flight_seconds == 0


@pytest.mark.e2e
def test_the_installed_command_killed_mid_evaluation_then_re_ingested_rates_it_at_once(tmp_path, pg_databases):
    """The real thing on PostgreSQL: `kpi-alerts ingest` (embedded) is SIGKILLed while its
    evaluation holds its claim (held up by a lock the test takes on `ratings`); PostgreSQL rolls
    its transaction back; `ingest` of the same file again rates it at once and says so."""
    import os
    import signal
    import subprocess

    import psycopg

    from tests.e2e.services import BIN
    from tests.peers import poll

    url = pg_databases.fresh()
    name = url.rsplit("/", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env["KPI_ALERTS_DATABASE_URL"] = url

    def connect() -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=pg_databases.cluster.port, user="postgres", dbname=name,
                               autocommit=True)

    def ingest() -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "kpi-alerts"), "ingest", "--json", str(RETURN)], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def claimed() -> bool:  # the evaluation's claim: its row lock on the return, uncommitted
        with connect() as conn:
            try:
                conn.execute("SELECT id FROM returns WHERE id = 1 FOR UPDATE NOWAIT")
            except psycopg.errors.LockNotAvailable:
                return True
            return False

    try:
        with connect() as blocker:
            blocker.execute("BEGIN")
            blocker.execute("LOCK TABLE ratings IN SHARE ROW EXCLUSIVE MODE")  # its INSERT waits
            first = ingest()
            poll(lambda: first.poll() is None and claimed(), 60, "the evaluation holding its claim")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            blocker.execute("ROLLBACK")
        with connect() as conn:
            poll(lambda: not claimed(), 30, "PostgreSQL rolling back the killed evaluation")
            assert conn.execute("SELECT published_at IS NOT NULL, evaluated_at IS NULL FROM returns").fetchall() == [
                (True, True)]
            assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (0,)

        started = time.monotonic()
        again = ingest()
        out, err = again.communicate(timeout=120)
        took = time.monotonic() - started
        assert again.returncode == 0, err
        assert took < 20, took  # not a 60 s wait for a worker that does not exist
        body = json.loads(out)
        assert (body["return"]["id"], body["return"]["status"], body["return"]["evaluation"]) == (
            1, "accepted", "done")
        assert len(body["evaluations"]) == 15
        assert "its evaluation did not finish" in err and "evaluated now" in err
        with connect() as conn:
            assert conn.execute("SELECT count(*) FROM returns WHERE evaluated_at IS NULL").fetchone() == (0,)
    finally:
        pg_databases.release(url)
