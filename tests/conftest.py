"""Shared fixtures: every test gets its own SQLite file; nothing touches the working copy.

Tests that need the example year landed (FY 2024-25, as the demo lands it) copy one
database landed once per session, on a fixed clock: the week its digest covers, its alert
events and the overdue check are the same on every run, whatever the date."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS
from tests.peers.smtp import smtp_server  # noqa: F401  (fixture)
from tests.peers.teams import teams_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "sandwell-2024-25"

# When the example year lands (a Wednesday, after its last return, the January 2026 finance
# position, was due), and when a test runs: minutes later, the same ISO week. The clock ticks
# on from there.
LANDED_AT = dt.datetime(2026, 2, 18, 9, 0, tzinfo=dt.UTC)
NOW = LANDED_AT + dt.timedelta(minutes=10)
NEXT_WEEK = "2026-W09"  # the digest sent on Monday 23 February 2026 covers the week the year landed


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def make_settings(tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    """make_settings(db='test.db', **fields): Settings on a SQLite file under tmp_path, in
    force (use_settings) until the test ends."""
    def make(db: str = "test.db", **fields: object) -> Settings:
        s = Settings(**{"database_url": sqlite_url(tmp_path / db), "broker_url": "", "rules_dir": SHIPPED_PACKS,
                        **fields})
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


@pytest.fixture(scope="session")
def landed_year_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example year landed once per session at LANDED_AT (read it through `landed_year`).
    Session-scoped, so it is made before any test's own settings are put in force."""
    from alerts.cli.demo import example_files
    from alerts.store.db import get_engine
    from tests.ingesting import ingest_path

    path = tmp_path_factory.mktemp("landed") / "year.db"
    with time_machine.travel(LANDED_AT, tick=True):
        use_settings(Settings(database_url=sqlite_url(path), broker_url="", rules_dir=SHIPPED_PACKS))
        try:
            for file in example_files(EXAMPLES):
                assert not ingest_path(file).errors, file
        finally:
            use_settings(None)
    get_engine(sqlite_url(path)).dispose()
    return path


@pytest.fixture
def landed_year(tmp_path: Path, landed_year_db: Path, clock: time_machine.Coordinates) -> str:
    """A copy of the landed example year for this test alone (its database URL), clock at NOW."""
    copy = tmp_path / "year.db"
    with sqlite3.connect(landed_year_db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return sqlite_url(copy)


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
def cli(tmp_path: Path):  # noqa: ANN201
    """`kpi-alerts` in-process on this test's own SQLite file (see tests/cli.py)."""
    from tests.cli import make_cli

    return make_cli(tmp_path / "cli.db")
