"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL in production."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from alerts.store import models  # noqa: F401  (registers the tables)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers don't block the single writer
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    create_schema(engine)
    return engine


def create_schema(engine: Engine, attempts: int = 3) -> None:
    """The tables, made once however many processes open a fresh database at the same moment.
    SQLite: the check and the CREATEs run under one write lock (BEGIN IMMEDIATE), so the others
    wait (busy timeout) and then find the tables. Elsewhere: a table made by someone else between
    the check and the CREATE ("already exists") is re-checked."""
    for attempt in range(attempts):
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                SQLModel.metadata.create_all(conn)
                conn.commit()
            return
        except DBAPIError as exc:
            if "already exists" not in str(exc.orig).lower() or attempt == attempts - 1:
                raise


def session_for(url: str) -> Session:
    return Session(get_engine(url), expire_on_commit=False)
