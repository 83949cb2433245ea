"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL in production."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, MetaData, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn
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
    """The tables, made once however many processes open a fresh database at the same moment,
    and the columns added since an existing database was made (`add_missing_columns`).
    SQLite: the checks, the CREATEs and the ALTERs run under one write lock (BEGIN IMMEDIATE), so
    the others wait (busy timeout) and then find them. Elsewhere: a table or column made by
    someone else between the check and the DDL ("already exists", "duplicate column") is re-checked."""
    for attempt in range(attempts):
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                SQLModel.metadata.create_all(conn)
                add_missing_columns(conn)
                conn.commit()
            return
        except DBAPIError as exc:
            text = str(exc.orig).lower()
            if not ("already exists" in text or "duplicate column" in text) or attempt == attempts - 1:
                raise


def add_missing_columns(conn: Connection, metadata: MetaData = SQLModel.metadata) -> list[str]:
    """Add to existing tables the columns the models gained since the database was made
    (`subscribers.digest_cadence`, `digests.reason`,
    `returns.published_at`): `create_all` makes missing tables but
    never alters one, so a database from an earlier version would fail on the first read.

    A stopgap: there are no migrations yet, and Alembic replaces this with the production-path
    issue. Only additive changes are handled: a column must be nullable or carry a server
    default (which fills the existing rows), and it cannot be a key; anything else raises.
    Idempotent (a column present is left alone) and run inside create_schema's transaction:
    under SQLite's write lock, and on PostgreSQL `ADD COLUMN IF NOT EXISTS` behind the
    table's lock. Returns the `table.column`s added."""
    inspector = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    if_not_exists = "IF NOT EXISTS " if conn.dialect.name == "postgresql" else ""
    added = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if column.primary_key or column.unique or (not column.nullable and column.server_default is None):
                raise RuntimeError(f"cannot add column {table.name}.{column.name} to an existing database "
                                   "without a migration (a key, or NOT NULL without a server default)")
            spec = CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {if_not_exists}{spec}")
            added.append(f"{table.name}.{column.name}")
    return added


def session_for(url: str) -> Session:
    return Session(get_engine(url), expire_on_commit=False)
