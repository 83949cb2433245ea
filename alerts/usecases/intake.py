"""The intake: how every door lands a return (`kpi-alerts ingest`, `POST /api/returns`, the web
upload page, the inbox folder, `returns confirm`).

One `Intake` per process holds what landing needs (settings, catalogue, the dispatcher's
`evaluate`, the clock, the size limits), so a door says only what differs: the bytes and their
name, how long to wait for a worker, who uploaded it, who accepts its queries up front, whether
the uploader sees them. It answers ONE tagged result, a small union of frozen dataclasses; each
door renders it with one `match` (its JSON shape: alerts/usecases/intake_json.py):

- `Rejected`: nothing stored; every problem as a FILE:ROW:COLUMN line.
- `Held`: stored with queries, nothing rated, nobody told, until confirmed or corrected.
- `LandedEvaluated`: stored and rated (`resumed`: an earlier copy's evaluation never finished).
- `LandedPending`: stored, not rated yet: its evaluation `failed` (ingest the same bytes again),
  was `deferred` (the broker is unreachable: the relay publishes it) or is `queued` (a worker had
  not finished it within the wait).
- `Duplicate`: byte-identical to a stored return; nothing changed.

The landing itself is alerts/usecases/ingest.py (`ingest_bytes`); `classify` is the one place
its record is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alerts.events import EvaluationOutcome, Landed
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.holds import confirm
from alerts.usecases.ingest import Dispatch, IngestResult, ReturnLimits, ingest_bytes, ingest_path

if TYPE_CHECKING:
    from config import Settings
    from rules.catalog import Catalog


@dataclass(frozen=True)
class Rejected:
    file: str
    errors: tuple[str, ...]
    kind: str | None = None  # the kind its header named (None: none recognised), for counting

    @property
    def status(self) -> str:
        return "rejected"


@dataclass(frozen=True)
class Held:
    file: str
    landed: Landed
    queries: tuple[str, ...]

    @property
    def status(self) -> str:
        return "held"


@dataclass(frozen=True)
class LandedEvaluated:
    file: str
    landed: Landed
    outcome: EvaluationOutcome
    queries: tuple[str, ...] = ()  # accepted up front (`--confirm`, `returns confirm`)
    resumed: bool = False  # a copy whose earlier evaluation never finished, evaluated now

    @property
    def status(self) -> str:
        return self.landed.status


PendingReason = Literal["failed", "deferred", "queued"]


@dataclass(frozen=True)
class LandedPending:
    file: str
    landed: Landed
    reason: PendingReason
    detail: str = ""  # failed / deferred: why, in one line
    outcome: EvaluationOutcome | None = None  # queued: what a worker had stored by the deadline
    queries: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.landed.status


@dataclass(frozen=True)
class Duplicate:
    file: str
    landed: Landed
    evaluated: bool = True  # False: the first copy's evaluation is still in flight
    queries: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "duplicate"


IntakeResult = Rejected | Held | LandedEvaluated | LandedPending | Duplicate


def classify(r: IngestResult) -> IntakeResult:
    """The ingest record as the one tagged result the doors render."""
    if r.landed is None:
        return Rejected(r.file, tuple(r.errors), r.rejected_kind)
    queries = tuple(r.queries)
    if r.held:
        return Held(r.file, r.landed, queries)
    if r.landed.status == "duplicate":
        return Duplicate(r.file, r.landed, r.evaluated, queries)
    if r.evaluation_failed:
        return LandedPending(r.file, r.landed, "failed", r.evaluation_failed, r.outcome, queries)
    if r.deferred:
        return LandedPending(r.file, r.landed, "deferred", r.deferred, r.outcome, queries)
    if not r.evaluated or r.outcome is None:
        return LandedPending(r.file, r.landed, "queued", "", r.outcome, queries)
    return LandedEvaluated(r.file, r.landed, r.outcome, queries, r.resumed)


class Intake:
    """Parse, land (one transaction) and dispatch the evaluation: one per process."""

    def __init__(self, settings: Settings, dispatch: Dispatch, catalog: Catalog | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        if catalog is None:
            from rules.loader import load_catalog

            catalog = load_catalog(settings.rules_dir)
        self.settings = settings
        self.catalog = catalog
        self.dispatch = dispatch
        self.clock = clock
        self.limits = ReturnLimits.of(settings)

    def land(self, name: str, data: bytes, *, wait: float = 0.0, token_id: int | None = None,
             confirm_by: str | None = None, told: bool = False) -> IntakeResult:
        """`wait`: seconds to wait for a worker's evaluation (broker mode); `token_id`: the API
        token uploading it; `confirm_by`: who accepts its queries up front; `told`: the uploader
        sees its queries (so the performance team is not emailed about a held one)."""
        with session_for(self.settings.database_url) as session:
            return classify(ingest_bytes(session, self.catalog, name, data, self.dispatch, self.clock(), wait,
                                         limits=self.limits, token_id=token_id,
                                         in_flight_seconds=self.settings.in_flight_seconds,
                                         confirm_by=confirm_by, told=told))

    def land_path(self, path: Path, *, wait: float = 0.0, confirm_by: str | None = None,
                  told: bool = False) -> IntakeResult:
        """A file on disk (the command line): its size is checked before it is read."""
        with session_for(self.settings.database_url) as session:
            return classify(ingest_path(session, self.catalog, path, self.dispatch, self.clock(), wait,
                                        limits=self.limits, in_flight_seconds=self.settings.in_flight_seconds,
                                        confirm_by=confirm_by, told=told))

    def confirm(self, return_id: int, by: str, note: str | None = None, *, wait: float = 0.0) -> IntakeResult:
        """Confirm a held return's figures: released and evaluated as if just landed.
        LookupError: no such return; holds.NotHeld: it is not held (why, in the message)."""
        with session_for(self.settings.database_url) as session:
            return classify(confirm(session, self.catalog, return_id, by, note, self.clock(), self.dispatch, wait))
