"""Every landed return gets rated (issue 10, section 5): a return stored but never evaluated
is listed by `kpi-alerts returns pending`, the in-process dispatcher retries a failed
evaluation once, and ingesting the same bytes again re-runs a missing evaluation.

The evaluation is made to fail from outside, as a crash or a locked database would: the
test's engine refuses the statement that stores ratings (no test-only code in production)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from alerts.store.db import get_engine
from tests.conftest import EXAMPLES


class RefusedByTheTest(RuntimeError):
    pass


@contextmanager
def ratings_refused(new_database, times: int | None = None) -> Iterator[list[str]]:
    """Every INSERT into ratings fails (the first `times` ones if given) while inside (the
    `cli` fixture's database)."""
    engine = get_engine(new_database("cli.db"))
    refused: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO RATINGS") and (times is None or len(refused) < times):
            refused.append(statement)
            raise RefusedByTheTest("database is locked")

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield refused
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def test_a_return_whose_evaluation_fails_stays_pending_and_a_re_ingest_rates_it(cli, new_database):
    path = str(EXAMPLES / "kpi-2024-10.csv")
    assert json.loads(cli("returns", "pending", "--json").stdout) == []
    with ratings_refused(new_database) as refused:
        res = cli("ingest", "--json", path)
    assert len(refused) == 2  # tried, and retried once
    assert res.returncode == 1
    assert "its evaluation failed (RefusedByTheTest: database is locked)" in res.stderr
    assert "kpi-alerts returns pending" in res.stderr
    failed = json.loads(res.stdout)
    assert (failed["return"]["status"], failed["evaluations"], failed["transitions"]) == ("accepted", [], [])
    assert failed["return"]["evaluation"] == "pending"
    assert failed["return"]["evaluation_error"] == "RefusedByTheTest: database is locked"

    pending = json.loads(cli("returns", "pending", "--json").stdout)
    assert len(pending) == 1
    p = pending[0]
    assert set(p) == {"id", "provider", "kind", "periods", "status", "file", "received_at", "queries"}
    assert (p["id"], p["provider"], p["kind"], p["periods"], p["status"], p["file"]) == (
        failed["return"]["id"], "sandwell", "kpi", ["2024-10"], "accepted", path)
    assert p["received_at"]
    table = cli("returns", "pending")
    assert table.returncode == 0 and path in table.stdout and "sandwell" in table.stdout
    assert json.loads(cli("status", "--json").stdout) == []  # nothing rated yet

    again = cli("ingest", "--json", path)  # the same bytes: not "duplicate with nothing done"
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["return"]["status"] == "accepted" and out["return"]["id"] == p["id"]
    assert len(out["evaluations"]) == 15 and out["transitions"]
    assert (out["return"]["evaluation"], out["return"]["evaluation_error"]) == ("done", None)
    assert json.loads(cli("returns", "pending", "--json").stdout) == []
    assert "no returns awaiting evaluation" in cli("returns", "pending").stdout
    assert len(json.loads(cli("status", "--json").stdout)) == 15

    dup = json.loads(cli("ingest", "--json", path).stdout)  # now evaluated: a plain duplicate
    assert (dup["return"]["status"], dup["evaluations"], dup["transitions"]) == ("duplicate", [], [])


def test_a_restated_return_left_pending_keeps_its_status_when_re_run(cli, tmp_path, new_database):
    first = EXAMPLES / "kpi-2024-10.csv"
    assert cli("ingest", str(first)).returncode == 0
    restated = tmp_path / "kpi-2024-10-restated.csv"
    restated.write_bytes(first.read_bytes().replace(b"68.8", b"70.1"))
    with ratings_refused(new_database):
        assert cli("ingest", str(restated)).returncode == 1
    assert [p["status"] for p in json.loads(cli("returns", "pending", "--json").stdout)] == ["restated"]
    out = json.loads(cli("ingest", "--json", str(restated)).stdout)
    assert out["return"]["status"] == "restated" and len(out["evaluations"]) == 15


def test_the_in_process_dispatcher_retries_a_failed_evaluation_once(cli, new_database):
    with ratings_refused(new_database, times=1) as refused:
        res = cli("ingest", "--json", str(EXAMPLES / "kpi-2024-10.csv"))
    assert len(refused) == 1
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["return"]["status"] == "accepted" and len(out["evaluations"]) == 15
    assert json.loads(cli("returns", "pending", "--json").stdout) == []


def test_the_installed_command_leaves_a_failed_evaluation_pending_and_rates_it_on_re_ingest(tmp_path):
    """The same journey through the console script, the failure made by the database itself
    (a trigger refusing ratings, as a full disk or a lock would)."""
    import sqlite3

    from tests.test_cli import run

    path = str(EXAMPLES / "kpi-2024-10.csv")
    assert run(tmp_path, "returns", "pending", "--json").stdout.strip() == "[]"  # creates the tables
    db = sqlite3.connect(tmp_path / "cli.db")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON ratings BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    res = run(tmp_path, "ingest", path)
    assert res.returncode == 1 and "its evaluation failed" in res.stderr and "disk full" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.strip() == f"{path}: accepted return 1 (kpi, sandwell, 2024-10): evaluation pending"
    assert [p["file"] for p in json.loads(run(tmp_path, "returns", "pending", "--json").stdout)] == [path]
    db.execute("DROP TRIGGER refuse")
    db.commit()
    db.close()
    again = run(tmp_path, "ingest", "--json", path)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["return"]["status"] == "accepted" and len(out["evaluations"]) == 15
    assert run(tmp_path, "returns", "pending", "--json").stdout.strip() == "[]"
