"""The ingest use case composed as the command line composes it (configured database and
packs, the real dispatcher, the wall clock), for tests that land returns."""

from __future__ import annotations

from pathlib import Path

from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases import ingest
from alerts.usecases.intake import classify
from alerts.usecases.intake_json import intake_json
from config import get_settings
from rules.loader import load_catalog


def ingest_bytes(name: str, data: bytes, wait_seconds: float = 60.0, confirm_by: str | None = None
                 ) -> ingest.IngestResult:
    """`confirm_by`: accept its queries up front (a synthetic return far outside the year's values)."""
    settings = get_settings()
    with session_for(settings.database_url) as session:
        return ingest.ingest_bytes(session, load_catalog(settings.rules_dir), name, data,
                                   dispatcher_for(settings).evaluate, utcnow(), wait_seconds,
                                   limits=ingest.ReturnLimits.of(settings), confirm_by=confirm_by)


def ingest_path(path: Path) -> ingest.IngestResult:
    settings = get_settings()
    with session_for(settings.database_url) as session:
        return ingest.ingest_path(session, load_catalog(settings.rules_dir), path, dispatcher_for(settings).evaluate,
                                  utcnow(), limits=ingest.ReturnLimits.of(settings))


def as_json(result: ingest.IngestResult) -> dict:
    """`ingest --json`'s object for one file."""
    return intake_json(load_catalog(get_settings().rules_dir), classify(result))


def land_json(name: str, data: bytes) -> dict:
    return as_json(ingest_bytes(name, data))
