"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL in production.

Opening a database checks its schema revision (alerts/store/schema.py): the embedded default
(a SQLite file and no broker URL) upgrades it by itself; with a broker URL set (production:
api, workers, beat, and the CLI beside them) nothing upgrades by itself, and a database that
is not at the latest revision is refused with SchemaNotCurrent ("run `kpi-alerts db upgrade`")."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.store import schema
from alerts.store.engine import make_engine
from config import get_settings


def embedded(url: str) -> bool:
    """The embedded default: a SQLite file, tasks in-process (no broker URL)."""
    return url.startswith("sqlite") and not get_settings().broker_url


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        if embedded(url):
            schema.ensure_latest(engine)
        else:
            schema.require_latest(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def require_latest(url: str) -> None:
    """For server processes at start-up: raise SchemaNotCurrent unless the database at `url` is
    at the latest revision (the embedded default upgrades it first, as it would on first use)."""
    if embedded(url):
        get_engine(url)
    else:
        schema.require_latest(url)


def session_for(url: str) -> Session:
    return Session(get_engine(url), expire_on_commit=False)
