"""The pipeline's steps as a worker runs them, and how one step hands work to the next.

Each step opens its session, loads what it needs and calls one use case. What comes next is
handed to a `Dispatcher`:

- `InProcess` (the embedded default, no broker): the next step runs here and now;
- `ToWorkers` (KPI_ALERTS_BROKER_URL set): the next step is published to the Celery workers by
  task name; `workers/tasks.py` registers these same steps under these same names.

So the command line, the use cases and the steps never import `workers`, and there is one
way each step runs, whichever process runs it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from alerts.digest.run import digest_audience, plan_digests
from alerts.digest.weeks import week_of
from alerts.events import EvaluationOutcome
from alerts.notify.deliver import deliver as attempt
from alerts.notify.deliver import deliver_many
from alerts.store.db import session_for
from alerts.store.deliveries import due, next_attempt_at, pending_digests, recover_stale
from alerts.store.models import utcnow
from alerts.usecases.evaluate import evaluate_return
from alerts.usecases.expected import check_returns
from alerts.usecases.inbox import InboxOutcome, scan_inbox
from alerts.usecases.ingest import ReturnLimits, ingest_bytes
from alerts.usecases.reminders import send_reminders
from config import Settings
from rules.loader import load_catalog

EVALUATE = "kpi_alerts.evaluate_return"
DELIVER = "kpi_alerts.deliver"
SWEEP = "kpi_alerts.sweep_deliveries"
DIGEST_WEEK = "kpi_alerts.digest_week"
DIGEST_CHUNK = "kpi_alerts.digest_chunk"
REMINDERS = "kpi_alerts.reminders"
INBOX_SCAN = "kpi_alerts.inbox_scan"
RETURNS_CHECK = "kpi_alerts.returns_check"

log = logging.getLogger(__name__)

DIGEST_SEND_SECONDS = 180  # of a chunk task's 240 s soft time limit: planning comes first


class Dispatcher(Protocol):
    def evaluate(self, return_id: int) -> EvaluationOutcome | None:
        """The outcome when evaluated here; None when a worker will (the caller waits)."""
    def deliver(self, delivery_ids: Sequence[int]) -> None: ...

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        """A retry that is due in `wait_seconds` (its time is kept in the database too)."""
    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None: ...


class InProcess:
    """No broker: every step runs in this process, at once."""
    def __init__(self, settings: Settings):
        self.settings = settings

    def evaluate(self, return_id: int) -> EvaluationOutcome:
        """Retried once (a transient failure: a locked database, a dropped connection); a
        second failure is raised, and the return stays pending (`kpi-alerts returns pending`)
        for the next ingest of the same bytes. Only a finished evaluation marks it evaluated."""
        try:
            return evaluate(self.settings, self, return_id)
        except Exception as exc:
            log.warning("evaluation of return %s failed (%s); retrying once", return_id, type(exc).__name__)
            log.debug("the failed evaluation of return %s", return_id, exc_info=True)
        return evaluate(self.settings, self, return_id)

    def deliver(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            deliver(self.settings, self, delivery_id)

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        """Nothing to schedule: `kpi-alerts deliveries flush` (or beat's sweep) sends due retries."""
    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None:
        digest_chunk(self.settings, week, subscriber_ids)


class ToWorkers:
    """Publishes each next step to the Celery workers by task name. Only ids travel: the
    broker holds no personal data or secrets."""
    def __init__(self, settings: Settings, send_task: Callable[..., Any] | None = None):
        self.settings = settings
        self._send = send_task or _producer(settings.broker_url).send_task

    def evaluate(self, return_id: int) -> None:
        self._send(EVALUATE, args=(return_id,))

    def deliver(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            self._send(DELIVER, args=(delivery_id,))

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        # Capped far below the broker's visibility timeout, so Redis never re-runs it early;
        # a retry still waiting after the cap is re-sent by the next deliver or the sweep.
        countdown = max(0.0, min(wait_seconds, self.settings.delivery_backoff_max))
        self._send(DELIVER, args=(delivery_id,), countdown=countdown)

    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None:
        self._send(DIGEST_CHUNK, args=(week, subscriber_ids))


def _producer(broker_url: str) -> Any:
    from celery import Celery  # only when publishing: the embedded default never loads Celery

    app = Celery("kpi_alerts", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    return app


def dispatcher_for(settings: Settings) -> Dispatcher:
    return InProcess(settings) if settings.eager else ToWorkers(settings)


# --- the steps ----------------------------------------------------------------------------


def evaluate(settings: Settings, dispatcher: Dispatcher, return_id: int) -> EvaluationOutcome:
    """Rate a landed return and move its alerts; then hand the outbox rows it wrote (committed
    with the transitions) to the deliver step."""
    with session_for(settings.database_url) as session:
        outcome = evaluate_return(session, load_catalog(settings.rules_dir), return_id, utcnow(), settings.base_url,
                                  settings.timezone)
    dispatcher.deliver(outcome.deliveries)
    return outcome


def deliver(settings: Settings, dispatcher: Dispatcher, delivery_id: int) -> str:
    """Attempt one delivery if it is due; schedule its retry if it is still pending."""
    with session_for(settings.database_url) as session:
        status = attempt(session, settings, delivery_id, utcnow())
        if status == "pending":
            at = next_attempt_at(session, delivery_id)
            if at is not None:
                dispatcher.deliver_later(delivery_id, (at - utcnow()).total_seconds())
    return status


def sweep(settings: Settings, dispatcher: Dispatcher) -> int:
    """Stale 'sending' rows become 'unknown'; due retries are handed to the deliver step."""
    now = utcnow()
    with session_for(settings.database_url) as session:
        recover_stale(session, now, dt.timedelta(seconds=2 * settings.send_timeout + 60))
        ids = due(session, now)
    dispatcher.deliver(ids)
    return len(ids)


def digest_week(settings: Settings, dispatcher: Dispatcher, week: str | None = None) -> dict:
    """Beat's Monday trigger: the week's audience in chunks, one digest_chunk step each."""
    week = week or week_of(utcnow(), settings.timezone)
    with session_for(settings.database_url) as session:
        audience = sorted(digest_audience(session))
    size = settings.digest_chunk_size
    chunks = [audience[i:i + size] for i in range(0, len(audience), size)]
    for chunk in chunks:
        dispatcher.digest_chunk(week, chunk)
    return {"week": week, "subscribers": len(audience), "chunks": len(chunks)}


def digest_chunk(settings: Settings, week: str, subscriber_ids: list[int]) -> dict:
    """Plan (ledger + outbox, exactly once per subscriber and week) and send one chunk, over
    one SMTP session by the digest sender; what is left at the deadline, or while the server
    is down, stays pending for the sweep (whose deliver step uses the same sender)."""
    with session_for(settings.database_url) as session:
        plan = plan_digests(session, load_catalog(settings.rules_dir), week, settings.timezone, utcnow(),
                            subscriber_ids, settings.base_url, settings.digest_max_rows, settings.digest_weekday)
        pending = pending_digests(session, week, subscriber_ids)  # a rerun also sends what one before planned
        sent = deliver_many(session, settings, pending, deadline=time.monotonic() + DIGEST_SEND_SECONDS)
    return {"week": week, "queued": len(plan.queued), "skipped": len(plan.skipped), "already": len(plan.already),
            "statuses": dict(sent), "skipped_because": dict(Counter(plan.reasons.values()))}


def reminders(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> int:
    """Beat's daily trigger: on the reminder weekday (local), the week's due reminders as one
    batch, one message per subscriber and channel; on the other days nothing. `now`: the wall
    clock unless given (a simulated day)."""
    with session_for(settings.database_url) as session:
        ids = send_reminders(session, load_catalog(settings.rules_dir), now or utcnow(), settings.base_url,
                             weekday=settings.reminder_weekday, timezone=settings.timezone)
    dispatcher.deliver(ids)
    return len(ids)


def inbox_scan(settings: Settings, dispatcher: Dispatcher, wait: bool = False) -> list[InboxOutcome]:
    """One scan of KPI_ALERTS_INBOX_DIR (nothing without one): every settled file landed as
    `ingest` lands it, then moved to done/ or rejected/ (alerts/usecases/inbox.py). Beat's scans
    are each other's second look; `wait` (a one-off scan) looks again itself. In broker mode the
    evaluation is queued, never waited for."""
    if settings.inbox_dir is None:
        return []
    catalog = load_catalog(settings.rules_dir)
    limits = ReturnLimits.of(settings)

    def land(name: str, data: bytes):  # noqa: ANN202
        with session_for(settings.database_url) as session:
            return ingest_bytes(session, catalog, name, data, dispatcher.evaluate, utcnow(), 0.0, limits=limits)

    return scan_inbox(settings.inbox_dir, land, limits=limits, settle_seconds=settings.inbox_settle_seconds, wait=wait)


def returns_check(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> int:
    """Beat's daily trigger: a missing return opens its provider's return_overdue_<kind> alert
    (idempotent: a second run, or a second beat, opens nothing twice); then the deliver step."""
    with session_for(settings.database_url) as session:
        ids = check_returns(session, load_catalog(settings.rules_dir), now or utcnow(), settings.timezone,
                            settings.base_url)
    dispatcher.deliver(ids)
    return len(ids)
