"""Ingest: parse -> query -> land (one transaction) -> hand the id to whoever evaluates it.

The one entry point for every way a return lands (CLI, HTTP upload, inbox folder). The
evaluation is dispatched through a callable the caller passes (a Dispatcher's `evaluate`,
alerts/steps.py), so this module knows nothing of Celery.

A return with queries (returns/queries.py: a value far outside its history, a period relabelled)
is landed held: stored, not evaluated, told to nobody, until someone confirms it
(alerts/usecases/holds.py), a corrected file supersedes it, or its hold hours pass. Whoever
lands it may accept the queries up front (`confirm_by`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlmodel import Session

from alerts.events import Deferred, EvaluationOutcome, Landed
from alerts.store.landing import StoredReturn, get_return, land, release
from alerts.store.ratings import current_observations
from alerts.usecases.evaluate import load_outcome
from returns import ParsedReturn, ReturnRejected, parse_return
from returns.coverage import uncovered
from returns.errors import WHOLE_FILE, ReturnProblem, problem_lines
from returns.queries import ReturnQuery, find_queries, wanted_periods
from returns.readers.base import Caps
from rules.catalog import Catalog
from rules.coverage import covered, covers, describe
from rules.periods import period_start

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger(__name__)



class Dispatch(Protocol):
    """Evaluate this return id: its outcome when done in-process, None when queued for a worker,
    Deferred when the broker could not take it (the relay publishes it once the broker is back).
    `claimed`: landing marked it handed on already (`land(handed_on=True)`), so it is this
    caller's to hand on, without claiming it again."""

    def __call__(self, return_id: int, claimed: bool = False) -> EvaluationOutcome | Deferred | None: ...


@dataclass(frozen=True)
class ReturnLimits:
    """How big a return may be (KPI_ALERTS_MAX_RETURN_MB, KPI_ALERTS_MAX_ROWS, KPI_ALERTS_MAX_COLUMNS)."""

    max_mb: float
    max_rows: int
    max_columns: int = 50

    @classmethod
    def of(cls, settings: Settings) -> ReturnLimits:
        return cls(settings.max_return_mb, settings.max_rows, settings.max_columns)

    @property
    def caps(self) -> Caps:
        """What reading one return may cost: an XLSX may unpack to 20 times the file limit."""
        return Caps(rows=self.max_rows, columns=self.max_columns, unpacked_bytes=20 * self.max_bytes)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    def too_large(self, name: str, size: int) -> str | None:
        """The rejection line for a file of `size` bytes, None when it is within the limit."""
        if size <= self.max_bytes:
            return None
        found = f"{size / 1024 / 1024:,.1f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"
        message = (f"file too large: {found} (expected at most {self.max_mb:g} MB, the KPI_ALERTS_MAX_RETURN_MB "
                   "limit; split the return by period)")
        return str(ReturnProblem(name, 0, WHOLE_FILE, message))


@dataclass
class IngestResult:
    file: str
    landed: Landed | None = None
    outcome: EvaluationOutcome | None = None
    errors: list[str] = field(default_factory=list)
    # The return is stored but its evaluation failed (why): it stays pending (`returns
    # pending`), and ingesting the same bytes again re-runs it.
    evaluation_failed: str | None = None
    # False while the return awaits evaluation: it failed, or a worker had not finished it
    # within the wait (`ingest --json` says "evaluation": "pending").
    evaluated: bool = True
    # The kind a rejected return's header named (None: no header recognised), for counting.
    rejected_kind: str | None = None
    # Broker mode, broker unreachable: the return is stored and pending, and the relay publishes
    # its evaluation once the broker is back (why it could not be published now). Not a failure.
    deferred: str | None = None
    # Its queries, as FILE:ROW:COLUMN: query: ... lines: accepted up front (`confirm_by`), or
    # `held`: stored but held until confirmed or corrected (nothing rated, nobody told).
    queries: list[str] = field(default_factory=list)
    held: bool = False
    # A byte-identical copy of a return whose earlier evaluation never finished (its process was
    # killed, or it failed and was released, or went stale): evaluated now, and said so.
    resumed: bool = False


def query_lines(file: str, rec: StoredReturn) -> list[str]:
    """A stored return's queries as located lines, of the file as `file` names it."""
    return [str(ReturnQuery.from_dict(file, q)) for q in rec.queries]


def code_label(catalog: Catalog):  # noqa: ANN201 - (measure, period) -> str
    """How a query names a measure: its contract code in the suite in force for the period."""
    def label(measure: str, period: str) -> str:
        day = period_start(period)
        return next((b.code for b in catalog.rules
                     if b.code and b.rule.measure_key == measure and b.pack.in_force(day)), measure)
    return label


def queries_of(session: Session, catalog: Catalog, parsed: ParsedReturn) -> list[ReturnQuery]:
    """What is doubtful in `parsed`, against the current values of the periods before it."""
    stored = current_observations(session, parsed.provider, parsed.kind, wanted_periods(parsed))
    session.rollback()  # end the read transaction: landing writes next
    return find_queries(parsed, stored, code_label(catalog))


_BUSY: set[str] = set()  # sha256 of the bytes an ingest in this process is landing or evaluating
_BUSY_LOCK = threading.Lock()


@contextmanager
def _first_here(data: bytes) -> Iterator[bool]:
    """Whether no other ingest in this process holds the same bytes (it holds them until its
    evaluation has finished): a copy arriving meanwhile waits for that one's evaluation rather
    than racing it (the embedded default resumes any other unrated copy at once)."""
    sha = hashlib.sha256(data).hexdigest()
    with _BUSY_LOCK:
        first = sha not in _BUSY
        _BUSY.add(sha)
    try:
        yield first
    finally:
        if first:
            with _BUSY_LOCK:
                _BUSY.discard(sha)


def ingest_bytes(session: Session, catalog: Catalog, name: str, data: bytes, dispatch: Dispatch,
                 now: dt.datetime, wait_seconds: float = 60.0, *, limits: ReturnLimits,
                 token_id: int | None = None, in_flight_seconds: float = 600.0,
                 confirm_by: str | None = None, told: bool = False) -> IngestResult:
    """See `_ingest_bytes`; a copy of bytes another ingest in this process is still landing or
    evaluating waits for its evaluation."""
    with _first_here(data) as first:
        return _ingest_bytes(session, catalog, name, data, dispatch, now, wait_seconds, limits=limits,
                             token_id=token_id, in_flight_seconds=in_flight_seconds, confirm_by=confirm_by,
                             told=told, busy_here=not first)


def _ingest_bytes(session: Session, catalog: Catalog, name: str, data: bytes, dispatch: Dispatch,
                  now: dt.datetime, wait_seconds: float, *, limits: ReturnLimits, token_id: int | None,
                  in_flight_seconds: float, confirm_by: str | None, told: bool, busy_here: bool) -> IngestResult:
    """`token_id`: the API token uploading it, recorded with the return (None: the command line).

    A return with queries is landed held (`held`, its `queries`), unless `confirm_by` (who)
    accepts them up front: then it is landed and evaluated as any return, the queries kept with
    it. `told`: the person landing it sees the queries (the command line, the upload page), so
    the performance team is not emailed about it. A byte-identical copy of a held return is
    answered held again, or with `confirm_by` releases it.

    A byte-identical duplicate is answered `duplicate` and changes nothing. When the stored copy
    is not rated yet its evaluation is either in flight (handed on less than
    `in_flight_seconds` ago, KPI_ALERTS_RELAY_STALE_SECONDS: the first upload is still being
    evaluated, or a worker has it), so the duplicate waits for it up to `wait_seconds`, or
    stuck (its evaluation failed and was released, or went stale), so the duplicate evaluates it
    now (`resumed`) and answers with the status it landed with (docs/performance-team.md: "Every landed return gets
    rated"). Embedded (no broker) `in_flight_seconds` is 0 (Settings.in_flight_seconds): an
    evaluation killed with its process is resumed at once; one still running in another
    process holds its claim, which the resumed evaluation waits on and then reads back."""
    too_large = limits.too_large(name, len(data))
    if too_large:
        return IngestResult(name, errors=[too_large])
    try:  # `now` is the landing clock: a period after its month is refused
        parsed = parse_return(name, data, catalog, now=now, max_rows=limits.max_rows, caps=limits.caps)
    except ReturnRejected as exc:
        return IngestResult(name, errors=problem_lines(exc.problems), rejected_kind=exc.kind)
    spans = covered(catalog, parsed.kind)
    outside = uncovered(parsed, lambda period: covers(spans, period), describe(spans))
    if outside:  # nothing would rate it: refused, rather than landed with no rating
        return IngestResult(name, errors=problem_lines(outside), rejected_kind=parsed.kind)
    found = queries_of(session, catalog, parsed)
    lines = [str(q) for q in found]
    landed = land(session, parsed, now, token_id, handed_on=True, queries=[q.as_dict() for q in found],
                  hold=bool(found) and confirm_by is None, confirmed_by=confirm_by, told=told)
    if landed.status == "held":
        return IngestResult(name, landed, evaluated=False, queries=lines, held=True)
    duplicate = landed if landed.status == "duplicate" else None
    claimed = duplicate is None
    if duplicate is not None:
        stored = get_return(session, landed.return_id)
        lines = query_lines(name, stored) if stored is not None else []
        if stored is not None and stored.evaluated_at is None and stored.superseded_by is not None:
            return IngestResult(name, landed)  # a corrected file replaced it while it was held: nothing to do
        if stored is not None and stored.held:
            released = release(session, stored.id, now, confirmed_by=confirm_by) if confirm_by else None
            if released is None:
                return IngestResult(name, Landed(stored.id, "held", stored.provider, stored.kind, stored.periods),
                                    evaluated=False, queries=lines, held=True)
            stored = released  # confirmed now: evaluated below as any return just landed
        if stored is None or stored.evaluated_at is not None:
            return IngestResult(name, landed)
        in_flight = stored.published_at is not None and (now - stored.published_at).total_seconds() < in_flight_seconds
        if busy_here or in_flight:
            return IngestResult(name, landed, evaluated=wait_for_evaluation(session, landed.return_id, wait_seconds))
        # stored, never rated, and nobody on it (a process stopped, an evaluation failed): evaluate it now
        landed = Landed(landed.return_id, stored.status, landed.provider, landed.kind, landed.periods)
        claimed = False
        session.rollback()  # end the read transaction before the evaluation writes
        result = evaluated(session, catalog, name, landed, dispatch, wait_seconds, claimed, lines)
        if result.outcome is not None and result.outcome.read_back:  # the first copy's evaluation rated it meanwhile
            return IngestResult(name, duplicate, queries=lines)
        return replace(result, resumed=True)
    return evaluated(session, catalog, name, landed, dispatch, wait_seconds, claimed, lines)


def evaluated(session: Session, catalog: Catalog, name: str, landed: Landed, dispatch: Dispatch,
              wait_seconds: float, claimed: bool, queries: list[str] | None = None) -> IngestResult:
    """Hand the landed (or released) return to `dispatch`, and say what came of it."""
    queries = queries or []
    try:
        outcome = dispatch(landed.return_id, claimed=claimed)
    except Exception as exc:  # the return stays stored and pending; the caller says so
        log.info("evaluation of return %s failed; it stays pending", landed.return_id, exc_info=True)
        reason = (str(exc).splitlines() or [""])[0][:200]  # one line, never a statement's parameters
        return IngestResult(name, landed, evaluation_failed=f"{type(exc).__name__}: {reason}", evaluated=False,
                            queries=queries)
    if isinstance(outcome, Deferred):  # stored and pending: the relay hands it to a worker later
        return IngestResult(name, landed, evaluated=False, deferred=outcome.reason, queries=queries)
    if outcome is None:  # a worker evaluates it: wait with a deadline, then read what it stored
        finished = wait_for_evaluation(session, landed.return_id, wait_seconds)
        return IngestResult(name, landed, load_outcome(session, landed.return_id, catalog), evaluated=finished,
                            queries=queries)
    return IngestResult(name, landed, outcome, queries=queries)


def wait_for_evaluation(session: Session, return_id: int, wait_seconds: float) -> bool:
    """Poll until a worker has evaluated the return or `wait_seconds` pass: whether it did."""
    deadline = time.monotonic() + wait_seconds
    while True:
        session.rollback()  # end the read transaction: see the worker's commit
        rec = get_return(session, return_id)
        if rec is not None and rec.evaluated_at is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def ingest_path(session: Session, catalog: Catalog, path: Path, dispatch: Dispatch, now: dt.datetime,
                wait_seconds: float = 60.0, *, limits: ReturnLimits, in_flight_seconds: float = 600.0,
                confirm_by: str | None = None, told: bool = False) -> IngestResult:
    try:
        with path.open("rb") as f:  # the size before reading: a 2 GB upload is never read in
            too_large = limits.too_large(str(path), os.fstat(f.fileno()).st_size)
            if too_large:
                return IngestResult(str(path), errors=[too_large])
            data = f.read(limits.max_bytes + 1)  # a file that grew meanwhile is caught by ingest_bytes
    except OSError as exc:
        return IngestResult(str(path), errors=[f"{path}:0:-: cannot read file: {exc.strerror}"])
    return ingest_bytes(session, catalog, str(path), data, dispatch, now, wait_seconds, limits=limits,
                        in_flight_seconds=in_flight_seconds, confirm_by=confirm_by, told=told)
