"""A fresh SQLite file opened while another process holds its write lock (creating the schema):
switching it to WAL fails at once with "database is locked" whatever the busy timeout, which
made two `inbox scan`s (or any two first uses) of a new database fail now and then. The engine
retries it while the other holds the lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from tests.conftest import ROOT

OPEN_IT = """
import sys
from sqlalchemy import text
from alerts.store.engine import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    print(conn.execute(text("PRAGMA journal_mode")).scalar())
"""


def test_a_fresh_file_locked_by_another_process_is_switched_to_wal_once_the_lock_is_released(tmp_path):
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # still a rollback-journal file: the other's WAL switch is refused
    holder.execute("CREATE TABLE t (x)")
    other = subprocess.Popen([sys.executable, "-c", OPEN_IT, f"sqlite:///{path}"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = other.communicate(timeout=3.0)  # it must still be waiting, not failed
        raise AssertionError(f"finished while the lock was held: {out!r} {err[-500:]!r}")
    except subprocess.TimeoutExpired:
        pass
    holder.execute("COMMIT")
    out, err = other.communicate(timeout=30)
    holder.close()
    assert other.returncode == 0, err[-2000:]
    assert out.strip() == "wal"
