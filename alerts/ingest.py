"""Ingest: parse -> land (one transaction) -> hand the id to the evaluate task.

The one entry point for every way a return lands (CLI, HTTP upload, inbox folder).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from alerts.evaluation import Outcome, load_outcome
from alerts.landing import Landed, land
from alerts.store.db import session_for
from alerts.store.models import ReturnRecord
from config import get_settings
from returns import ReturnRejected, parse_return
from rules.check import load_catalog


@dataclass
class IngestResult:
    file: str
    landed: Landed | None = None
    outcome: Outcome | None = None
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        if self.landed is None:
            return {"return": {"file": self.file, "status": "rejected"}, "errors": self.errors,
                    "evaluations": [], "transitions": []}
        ret = {"id": self.landed.return_id, "provider": self.landed.provider, "kind": self.landed.kind,
               "periods": list(self.landed.periods), "status": self.landed.status}
        fresh = self.landed.status != "duplicate" and self.outcome is not None
        return {"return": ret, "evaluations": self.outcome.evaluations if fresh else [],  # type: ignore[union-attr]
                "transitions": self.outcome.transitions if fresh else []}  # type: ignore[union-attr]


def ingest_bytes(name: str, data: bytes, wait_seconds: float = 60.0) -> IngestResult:
    from workers.tasks import evaluate_return_task  # the task module imports the Celery app

    settings = get_settings()
    catalog = load_catalog(settings.rules_dir)
    try:
        parsed = parse_return(name, data, catalog)
    except ReturnRejected as exc:
        return IngestResult(name, errors=[str(p) for p in exc.problems])
    with session_for(settings.database_url) as session:
        landed = land(session, parsed)
    if landed.status == "duplicate":
        return IngestResult(name, landed)
    if settings.eager:  # in-process: the task's own outcome, no second read
        return IngestResult(name, landed, evaluate_return_task.apply(args=(landed.return_id,)).get())
    evaluate_return_task.delay(landed.return_id)
    with session_for(settings.database_url) as session:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:  # a worker evaluates it: poll with a deadline
            rec = session.get(ReturnRecord, landed.return_id)
            if rec is not None and rec.evaluated_at is not None:
                break
            session.expire_all()
            time.sleep(0.1)
        return IngestResult(name, landed, load_outcome(session, catalog, landed.return_id))


def ingest_path(path: Path, wait_seconds: float = 60.0) -> IngestResult:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return IngestResult(str(path), errors=[f"{path}:0:-: cannot read file: {exc.strerror}"])
    return ingest_bytes(str(path), data, wait_seconds)
