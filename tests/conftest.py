"""Shared fixtures: every test gets its own database; nothing touches the working copy.

Every test that touches the store runs twice, on SQLite and on PostgreSQL (`backend`, ids
`sqlite` and `postgresql`: `-k "not postgresql"` runs SQLite only): its databases come from
`new_database` (a SQLite file under tmp_path, upgraded on first use as the embedded default
does; or an emptied database at the latest revision on the suite's own PostgreSQL cluster,
tests/peers/postgres.py, started once per session when the first PostgreSQL test needs it).

Tests that need the example year landed (FY 2024-25, as the demo lands it) copy one
database landed once per session and backend, on a fixed clock: the week its digest covers,
its alert events and the overdue check are the same on every run, whatever the date."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

import config.settings
from alerts.examples import SANDWELL
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS
from tests.peers.postgres import PostgresCluster, running_cluster
from tests.peers.smtp import smtp_server  # noqa: F401  (fixture)
from tests.peers.teams import teams_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = SANDWELL  # the example year, shipped in the package (alerts/examples/)
BACKENDS = ("sqlite", "postgresql")

# When the example year lands (a Wednesday, after its last return, the January 2026 finance
# position, was due), and when a test runs: minutes later, the same ISO week. The clock ticks
# on from there.
LANDED_AT = dt.datetime(2026, 2, 18, 9, 0, tzinfo=dt.UTC)
NOW = LANDED_AT + dt.timedelta(minutes=10)
NEXT_WEEK = "2026-W09"  # the digest sent on Monday 23 February 2026 covers the week the year landed


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class PgDatabases:
    """Databases on the session's cluster, all at the latest revision: `fresh()` hands out an
    empty one (reused ones are emptied with TRUNCATE ... RESTART IDENTITY, so ids start at 1
    again), `copy_of(name)` a new copy of a database (the landed year), dropped after."""

    def __init__(self, cluster: PostgresCluster) -> None:
        from alerts.store.schema import raw_engine, upgrade

        self.cluster = cluster
        self.head = "kpi_head"
        engine = raw_engine(cluster.create_database(self.head))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self._free: list[str] = []
        self._made = 0

    def _name(self) -> str:
        self._made += 1
        return f"kpi_test_{self._made}"

    def fresh(self) -> str:
        if not self._free:
            return self.cluster.create_database(self._name(), self.head)
        name = self._free.pop()
        self._empty(name)
        return self.cluster.url(name)

    def _empty(self, name: str) -> None:
        import psycopg

        from alerts.store.models import SQLModel

        tables = ", ".join(f'"{t}"' for t in SQLModel.metadata.tables)
        with psycopg.connect(host="127.0.0.1", port=self.cluster.port, user="postgres", dbname=name,
                             autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            try:
                conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            except psycopg.errors.LockNotAvailable:  # a connection a test left in a transaction
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    def release(self, url: str) -> None:
        self._free.append(url.rsplit("/", 1)[1])

    def copy_of(self, name: str) -> str:
        return self.cluster.create_database(self._name(), name)

    def drop(self, url: str) -> None:
        self.cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """The suite's own PostgreSQL cluster, stopped and removed at the end whatever happens."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_databases(postgres: PostgresCluster) -> PgDatabases:
    return PgDatabases(postgres)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def new_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """new_database(name='test.db'): the URL of this test's database `name` (the same URL for
    the same name), on the test's backend."""
    made: dict[str, str] = {}

    def make(name: str = "test.db") -> str:
        if name not in made:
            if backend == "sqlite":
                made[name] = sqlite_url(tmp_path / name)
            else:
                made[name] = request.getfixturevalue("pg_databases").fresh()
        return made[name]

    yield make
    if backend == "postgresql" and made:
        pool = request.getfixturevalue("pg_databases")
        for url in made.values():
            pool.release(url)


@pytest.fixture
def make_settings(new_database: Callable[..., str]) -> Iterator[Callable[..., Settings]]:
    """make_settings(db='test.db', **fields): Settings on this test's database `db` (see
    new_database), in force (use_settings) until the test ends."""
    def make(db: str = "test.db", **fields: object) -> Settings:
        url = fields.pop("database_url", None) or new_database(db)
        s = Settings(**{"database_url": url, "broker_url": "", "rules_dir": SHIPPED_PACKS, **fields})
        use_settings(s)
        return s

    yield make
    use_settings(None)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The clock at NOW, ticking: `clock.shift(dt.timedelta(days=30))` moves it on."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def _land_year(url: str) -> None:
    """Land the example year at LANDED_AT into the database at `url`, then close it."""
    from alerts.cli.demo import example_files
    from alerts.store.db import get_engine
    from tests.ingesting import ingest_path

    previous = config.settings._override  # a test's settings in force stay so
    with time_machine.travel(LANDED_AT, tick=True):
        use_settings(Settings(database_url=url, broker_url="", rules_dir=SHIPPED_PACKS))
        try:
            for file in example_files(EXAMPLES):
                assert not ingest_path(file).errors, file
        finally:
            use_settings(previous)
    get_engine(url).dispose()


@pytest.fixture(scope="session")
def landed_year_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example year landed once per session at LANDED_AT on SQLite (read it through `landed_year`)."""
    path = tmp_path_factory.mktemp("landed") / "year.db"
    _land_year(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def landed_year_pg(pg_databases: PgDatabases) -> str:
    """The example year landed once per session on PostgreSQL: the name of its database."""
    url = pg_databases.copy_of(pg_databases.head)
    _land_year(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture
def landed_year(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                clock: time_machine.Coordinates) -> Iterator[str]:
    """A copy of the landed example year for this test alone (its database URL), clock at NOW."""
    if backend == "sqlite":
        copy = tmp_path / "year.db"
        with sqlite3.connect(request.getfixturevalue("landed_year_db")) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        src.close()
        dst.close()
        yield sqlite_url(copy)
        return
    pool = request.getfixturevalue("pg_databases")
    url = pool.copy_of(request.getfixturevalue("landed_year_pg"))
    yield url
    pool.drop(url)


@pytest.fixture
def demo(make_settings: Callable[..., Settings], landed_year: str, smtp_server):  # noqa: F811
    """The example year landed, mail to the SMTP peer, signed links to a base URL, the clock at
    NOW: (settings, smtp peer)."""
    s = make_settings(database_url=landed_year, email_url=smtp_server.apprise_url,
                      email_from="kpi-alerts@example.org", base_url="https://alerts.example.org",
                      secret_key="test-key-0123456789", digest_chunk_size=2, delivery_backoff_base=1,
                      delivery_backoff_max=2)
    return s, smtp_server


def add_subscriber(settings: Settings, name: str, email: str | None = None, teams_url: str | None = None,
                   **spec: object) -> int:
    """Subscribe `name` (a new or existing subscriber) with SubscriptionSpec(**spec); their id."""
    from alerts.store.db import session_for
    from alerts.store.models import Subscriber
    from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
    from rules.loader import load_catalog

    with session_for(settings.database_url) as s:
        subscribe(s, load_catalog(settings.rules_dir), name, email, teams_url, SubscriptionSpec(**spec))
        return s.execute(select(Subscriber.id).where(Subscriber.name == name)).scalar_one()


def kpi_csv(rows: list[tuple[str, str, str]], provider: str = "sandwell") -> bytes:
    """A KPI return: rows of (period, indicator, value)."""
    lines = ["provider,period,indicator,value"] + [f"{provider},{p},{i},{v}" for p, i, v in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def cli(new_database: Callable[..., str]):  # noqa: ANN201
    """`kpi-alerts` in-process on this test's own database (see tests/cli.py)."""
    from tests.cli import make_cli

    return make_cli(new_database("cli.db"))
