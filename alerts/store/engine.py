"""Making an engine: SQLite with WAL and a busy timeout, PostgreSQL (psycopg) with pre-ping."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

WAL_WAIT_SECONDS = 30.0  # as long as the busy timeout


def wal_mode(cur: sqlite3.Cursor) -> None:
    """Readers don't block the single writer. Switching a fresh file to WAL while another process
    holds its write lock (creating the schema) fails at once with "database is locked": the busy
    timeout does not apply to it. So it is retried, up to as long as the busy timeout would wait
    (it was a first-use race: two processes opening a new database file at once)."""
    deadline = time.monotonic() + WAL_WAIT_SECONDS
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            wal_mode(cur)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
