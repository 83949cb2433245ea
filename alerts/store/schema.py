"""The schema's revision: Alembic migrations in alerts/store/migrations/ (no alembic.ini: the
configuration is built here), and the rules for who may upgrade a database.

- `upgrade(engine)` (`kpi-alerts db upgrade`) brings any database to the latest revision under
  a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock, and the DDL
  is transactional), so processes upgrading at once wait for the first and then find nothing
  to do. A database made by `create_all` before migrations existed (tables, no
  `alembic_version`) is adopted: the tables and columns of the baseline revision it lacks are
  added, and it is stamped at the baseline, then upgraded like any other.
- The embedded default (SQLite, no broker URL) upgrades its file by itself when it is first
  opened (`alerts.store.db.get_engine`); everything else (a broker URL set: the api, workers,
  beat and the CLI beside them) refuses a database that is not at the latest revision
  (`require_latest`), and the compose `migrate` service runs `kpi-alerts db upgrade`.

Alembic is imported only to change a database: checking the revision is one SELECT against
`HEAD`, which tests/store/test_migrations.py keeps equal to Alembic's head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, MetaData, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateColumn
from sqlmodel import SQLModel

from alerts.store import models  # noqa: F401  (registers the tables)
from alerts.store.engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0006"  # the newest revision in migrations/versions/
BASELINE = "0001"  # the schema create_all made before there were migrations
VERSION_TABLE = "alembic_version"
_PG_LOCK = 0x6B70695F616C7274  # pg_advisory_xact_lock key for upgrades ("kpi_alrt")


class SchemaNotCurrent(RuntimeError):
    """The database is not at the revision the code needs (a server process refuses to start)."""

    def __init__(self, current: str | None, needed: str) -> None:
        self.current, self.needed = current, needed
        super().__init__(f"database at revision {current or 'none (empty)'}, the code needs {needed}: "
                         "run `kpi-alerts db upgrade`")


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def alembic_head() -> str:
    """The newest revision as Alembic reads it from the version files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; None for one without `alembic_version` (empty, or made
    before migrations)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608 - a constant


def require_latest(engine: Engine | str) -> None:
    """Raise SchemaNotCurrent unless the database is at HEAD (a URL or an engine)."""
    own = isinstance(engine, str)
    eng = raw_engine(engine) if isinstance(engine, str) else engine
    try:
        with eng.connect() as conn:
            current = current_revision(conn)
    finally:
        if own:
            eng.dispose()
    if current != HEAD:
        raise SchemaNotCurrent(current, HEAD)


def ensure_latest(engine: Engine) -> None:
    """The embedded default's upgrade on first use: one SELECT when already at HEAD."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    upgrade(engine)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to HEAD (adopting a pre-migration one first): (from, to). Holds the
    upgrade lock throughout, so concurrent callers run one after another and the later ones
    find it done."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock: the others wait (busy timeout)
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        before = current_revision(conn)
        if before != HEAD:
            from alembic import command

            config = alembic_config(conn)
            if before is None and _has_tables(conn):
                adopt(conn)
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
        conn.commit()
    return before, HEAD


def _has_tables(conn: Connection) -> bool:
    names = set(inspect(conn).get_table_names())
    return any(t in names for t in SQLModel.metadata.tables)


def baseline_columns() -> dict[str, list[str]]:
    """Table -> column names of the BASELINE revision, read from the migration itself (run on
    an in-memory SQLite database), so adoption never adds what a later revision adds."""
    from alembic import command

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            inspector = inspect(conn)
            return {t: [c["name"] for c in inspector.get_columns(t)]
                    for t in inspector.get_table_names() if t != VERSION_TABLE}
    finally:
        engine.dispose()


def adopt(conn: Connection) -> list[str]:
    """A database made by `create_all` before migrations: add the baseline's tables and columns
    it lacks (an earlier version made fewer: `subscribers.digest_cadence` and `digests.reason`
    came late), so that it is exactly at BASELINE. Returns what was added."""
    baseline = baseline_columns()
    present = set(inspect(conn).get_table_names())
    added = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in baseline and table.name not in present:
            if [c.name for c in table.columns] != baseline[table.name]:
                raise RuntimeError(f"cannot adopt the database: table {table.name} is missing and the models' "
                                   "columns are no longer the baseline's")
            table.create(conn)
            added.append(table.name)
    return added + add_missing_columns(conn, only=baseline)


def add_missing_columns(conn: Connection, metadata: MetaData = SQLModel.metadata,
                        only: dict[str, list[str]] | None = None) -> list[str]:
    """Add to existing tables the columns of `metadata` they lack (only the `only` ones when
    given: the baseline's). Only additive changes: a column must be nullable or carry a server
    default (which fills the existing rows), and it cannot be a key; anything else raises.
    Idempotent, and run inside the caller's transaction. Returns the `table.column`s added."""
    inspector = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    if_not_exists = "IF NOT EXISTS " if conn.dialect.name == "postgresql" else ""
    added = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or (only is not None and column.name not in only.get(table.name, ())):
                continue
            if column.primary_key or column.unique or (not column.nullable and column.server_default is None):
                raise RuntimeError(f"cannot add column {table.name}.{column.name} to an existing database "
                                   "without a migration (a key, or NOT NULL without a server default)")
            spec = CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {if_not_exists}{spec}")
            added.append(f"{table.name}.{column.name}")
    return added


def new_revision(message: str) -> str:
    """Write the next revision file, autogenerated against a scratch database at HEAD (then
    review it: autogenerate misses renames and some constraint changes). Its path."""
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        engine = raw_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                script = command.revision(alembic_config(conn), message, autogenerate=True,
                                          rev_id=f"{int(HEAD) + 1:04d}")
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return script.path


def raw_engine(url: str) -> Engine:
    """An engine with the project's connection settings and no revision check (db.py's
    get_engine adds the check, and caches)."""
    return make_engine(url)


def upgrade_url(url: str) -> tuple[str | None, str]:
    """`upgrade` on the database at `url`: (from, to)."""
    engine = raw_engine(url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def current_url(url: str) -> str | None:
    """The revision of the database at `url` (None: empty, or made before migrations)."""
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    finally:
        engine.dispose()
