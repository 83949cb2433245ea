"""A database made by an earlier version gains the columns added since (until Alembic comes
with the production-path issue): `create_schema` adds them, once, however many processes open
it at the same moment."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from alerts.store.db import add_missing_columns, create_schema, get_engine
from alerts.store.models import Digest, ReturnRecord, Subscriber
from tests.conftest import sqlite_url


def old_database(path: Path) -> None:
    """The schema as it was before `subscribers.digest_cadence`, `digests.reason` and
    `returns.published_at`, holding a subscriber, a ledger row and a return awaiting evaluation."""
    engine = create_engine(sqlite_url(path))
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE subscribers DROP COLUMN digest_cadence")
        db.execute("ALTER TABLE digests DROP COLUMN reason")
        db.execute("ALTER TABLE returns DROP COLUMN published_at")
        db.execute("INSERT INTO returns (id, provider, kind, periods, filename, sha256, status, rows, received_at) "
                   "VALUES (1, 'sandwell', 'kpi', '2024-10', 'kpi.csv', 'x', 'accepted', 1, "
                   "'2025-01-01 00:00:00.000000')")
        db.execute("INSERT INTO subscribers (id, name, email, empty_digest, created_at) "
                   "VALUES (1, 'Old', 'old@example.org', 0, '2025-01-01 00:00:00.000000')")
        db.execute("INSERT INTO digests (subscriber_id, week, status, counts, created_at) "
                   "VALUES (1, '2025-W01', 'skipped', '{}', '2025-01-01 00:00:00.000000')")
    db.close()


def columns(path: Path, table: str) -> dict[str, tuple]:
    with sqlite3.connect(path) as db:
        out = {row[1]: (row[2], row[3], row[4]) for row in db.execute(f"PRAGMA table_info({table})")}
    db.close()
    return out


def test_an_old_database_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old_database(path)
    before = create_engine(sqlite_url(path))
    with Session(before) as s, pytest.raises(OperationalError, match="no such column"):
        s.execute(select(Subscriber)).all()  # what an upgrade met before: every read of a subscriber failed
    before.dispose()
    engine = get_engine(sqlite_url(path))  # create_schema runs here
    assert columns(path, "subscribers")["digest_cadence"] == ("VARCHAR", 1, "'weekly'")  # NOT NULL, filled
    assert columns(path, "digests")["reason"] == ("VARCHAR", 0, None)
    assert columns(path, "returns")["published_at"][1:] == (0, None)  # nullable: never published yet
    with Session(engine) as s:
        old = s.execute(select(Subscriber)).scalar_one()
        assert (old.name, old.empty_digest, old.digest_cadence) == ("Old", False, "weekly")
        assert s.execute(select(Digest.status, Digest.reason)).one() == ("skipped", None)
        assert s.execute(select(ReturnRecord.id, ReturnRecord.published_at)).one() == (1, None)  # for the relay
        s.add(Subscriber(name="New", email="new@example.org", digest_cadence="monthly"))
        s.commit()
        assert sorted(s.execute(select(Subscriber.name, Subscriber.digest_cadence)).all()) == [
            ("New", "monthly"), ("Old", "weekly")]
    with engine.connect() as conn:
        assert add_missing_columns(conn) == []  # idempotent: nothing left to add
    create_schema(engine)  # and again, as every process start does
    assert list(columns(path, "subscribers")).count("digest_cadence") == 1
    engine.dispose()


def test_processes_opening_an_old_database_at_once_add_each_column_once(tmp_path):
    path = tmp_path / "old.db"
    old_database(path)
    engines = [create_engine(sqlite_url(path), connect_args={"timeout": 30}) for _ in range(6)]
    start, errors = threading.Barrier(len(engines)), []

    def upgrade(engine) -> None:  # noqa: ANN001
        start.wait()
        try:
            create_schema(engine)
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
