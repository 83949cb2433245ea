"""Alembic migrations (alerts/store/schema.py): they make exactly the models' schema on SQLite
and PostgreSQL; a database made by `create_all` before migrations is adopted (the columns it
lacks added, stamped) however many processes open it at once; the embedded default upgrades
by itself; with a broker set, a database behind the code is refused, by name."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from alerts.store import schema
from alerts.store.db import get_engine, require_latest
from alerts.store.models import Digest, Subscriber
from alerts.store.schema import BASELINE, HEAD, VERSION_TABLE, SchemaNotCurrent, add_missing_columns, raw_engine
from config import Settings, use_settings
from tests.conftest import sqlite_url


def differences(url: str) -> list:
    """What autogenerate would write to make the database equal to the models (types and
    server defaults compared too)."""
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    return schema.current_url(url)


def test_head_is_alembic_s_head_and_the_baseline_the_pre_migration_schema():
    assert schema.alembic_head() == HEAD  # the fast check (one SELECT) compares with HEAD
    baseline = schema.baseline_columns()  # BASELINE's tables, read from its migration
    # 0002 adds api_tokens, 0004 the web app's users, sign-in requests and sessions
    assert set(baseline) == set(SQLModel.metadata.tables) - {"api_tokens", "users", "signin_requests", "web_sessions",
                                                               "heartbeats"}
    assert "digest_cadence" in baseline["subscribers"] and "reason" in baseline["digests"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_the_migrations_make_exactly_the_models_schema(new_database):
    url = new_database("fresh.db")
    if url.startswith("postgresql"):  # the pool's databases are at head already: start from nothing
        engine = raw_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    assert revision(url) is None
    assert schema.upgrade_url(url) == (None, HEAD)
    assert revision(url) == HEAD
    assert differences(url) == []
    assert schema.upgrade_url(url) == (HEAD, HEAD)  # idempotent


def old_schema(conn) -> None:  # noqa: ANN001
    """The schema as create_all made it before `subscribers.digest_cadence` and `digests.reason`
    (and before migrations: no alembic_version), holding a subscriber and a ledger row. Built
    from the baseline revision (later ones add what create_all never made)."""
    from alembic import command

    command.upgrade(schema.alembic_config(conn), BASELINE)
    conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    conn.execute(text("ALTER TABLE subscribers DROP COLUMN digest_cadence"))
    conn.execute(text("ALTER TABLE digests DROP COLUMN reason"))
    conn.execute(text("INSERT INTO subscribers (id, name, email, empty_digest, created_at) "
                      "VALUES (1, 'Old', 'old@example.org', false, '2025-01-01 00:00:00')"))
    conn.execute(text("INSERT INTO digests (subscriber_id, week, status, counts, created_at) "
                      "VALUES (1, '2025-W01', 'skipped', '{}', '2025-01-01 00:00:00')"))


def old_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        old_schema(conn)
    engine.dispose()


def columns(path: Path, table: str) -> dict[str, tuple]:
    with sqlite3.connect(path) as db:
        out = {row[1]: (row[2], row[3], row[4]) for row in db.execute(f"PRAGMA table_info({table})")}
    db.close()
    return out


def test_an_old_sqlite_database_is_adopted_on_first_use_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old_database(sqlite_url(path))
    before = create_engine(sqlite_url(path))
    with Session(before) as s, pytest.raises(OperationalError, match="no such column"):
        s.execute(select(Subscriber)).all()  # what an upgrade met before: every read of a subscriber failed
    before.dispose()
    use_settings(Settings(database_url=sqlite_url(path), broker_url=""))
    try:
        engine = get_engine(sqlite_url(path))  # the embedded default: adopted and upgraded here
    finally:
        use_settings(None)
    assert revision(sqlite_url(path)) == HEAD
    assert columns(path, "subscribers")["digest_cadence"] == ("VARCHAR", 1, "'weekly'")  # NOT NULL, filled
    assert columns(path, "digests")["reason"] == ("VARCHAR", 0, None)
    with Session(engine) as s:
        old = s.execute(select(Subscriber)).scalar_one()
        assert (old.name, old.empty_digest, old.digest_cadence) == ("Old", False, "weekly")
        assert s.execute(select(Digest.status, Digest.reason)).one() == ("skipped", None)
        s.add(Subscriber(name="New", email="new@example.org", digest_cadence="monthly"))
        s.commit()
        assert sorted(s.execute(select(Subscriber.name, Subscriber.digest_cadence)).all()) == [
            ("New", "monthly"), ("Old", "weekly")]
    engine.dispose()
    assert differences(sqlite_url(path)) == []
    assert list(columns(path, "subscribers")).count("digest_cadence") == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_old_postgresql_database_is_adopted_by_db_upgrade(new_database, cli):
    url = new_database("old.db")
    old_database(url)
    assert revision(url) is None
    assert cli("db", "current", database_url=url).returncode == 1
    done = cli("db", "upgrade", database_url=url)
    assert (done.returncode, done.stdout) == (0, f"upgraded from none to {HEAD} (head)\n")
    assert cli("db", "current", database_url=url).stdout == f"{HEAD} (head)\n"
    assert differences(url) == []
    engine = raw_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, digest_cadence FROM subscribers")).all() == [("Old", "weekly")]
    engine.dispose()


def test_processes_opening_an_old_database_at_once_adopt_it_once(tmp_path):
    path = tmp_path / "old.db"
    old_database(sqlite_url(path))
    engines = [raw_engine(sqlite_url(path)) for _ in range(6)]
    start, errors = threading.Barrier(len(engines)), []

    def upgrade(engine) -> None:  # noqa: ANN001
        start.wait()
        try:
            schema.ensure_latest(engine)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert "digest_cadence" in columns(path, "subscribers") and "reason" in columns(path, "digests")
    for e in engines:
        e.dispose()
    assert revision(sqlite_url(path)) == HEAD and differences(sqlite_url(path)) == []


def test_a_column_that_cannot_be_added_without_a_migration_is_refused_by_name(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "t.db"))
    Table("things", MetaData(), Column("id", Integer, primary_key=True)).create(engine)
    newer = MetaData()
    Table("things", newer, Column("id", Integer, primary_key=True), Column("label", String, nullable=False))
    with engine.connect() as conn, pytest.raises(RuntimeError, match=r"things\.label .* without a migration"):
        add_missing_columns(conn, newer)
    Table("things", fine := MetaData(), Column("id", Integer, primary_key=True), Column("note", String))
    with engine.begin() as conn:
        assert add_missing_columns(conn, fine) == ["things.note"]
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_with_a_broker_set_nothing_upgrades_and_a_database_behind_is_refused(new_database):
    url = new_database("behind.db")
    engine = raw_engine(url)
    with engine.begin() as conn:  # a database at an older revision than the code's
        if url.startswith("postgresql"):
            conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        else:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('0000')"))
    engine.dispose()
    use_settings(Settings(database_url=url, broker_url="redis://127.0.0.1:1/0"))
    try:
        message = f"database at revision 0000, the code needs {HEAD}: run `kpi-alerts db upgrade`"
        with pytest.raises(SchemaNotCurrent, match=message.replace("(", r"\(").replace(")", r"\)")):
            require_latest(url)
        with pytest.raises(SchemaNotCurrent):
            get_engine(url)  # every process beside the servers refuses too
        assert revision(url) == "0000"  # untouched
    finally:
        use_settings(None)
        engine = raw_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": HEAD})
        engine.dispose()


def test_an_empty_database_is_refused_with_a_broker_set(tmp_path):
    url = sqlite_url(tmp_path / "empty.db")
    use_settings(Settings(database_url=url, broker_url="redis://127.0.0.1:1/0"))
    try:
        with pytest.raises(SchemaNotCurrent, match=r"database at revision none \(empty\), the code needs"):
            require_latest(url)
    finally:
        use_settings(None)


def test_an_old_database_lacking_whole_tables_gains_them(tmp_path):
    """A database from before the digest issue had no `digests` table and no install secrets."""
    url = sqlite_url(tmp_path / "older.db")
    old_database(url)
    with sqlite3.connect(tmp_path / "older.db") as db:
        db.execute("DROP TABLE digests")
        db.execute("DROP TABLE install_secrets")
    db.close()
    assert schema.upgrade_url(url) == (None, HEAD)
    assert differences(url) == []
    assert columns(tmp_path / "older.db", "subscribers")["digest_cadence"] == ("VARCHAR", 1, "'weekly'")
