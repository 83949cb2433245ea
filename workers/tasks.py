"""Thin tasks: each loads settings, opens a session and calls one pipeline step."""

from __future__ import annotations

import datetime as dt
import time

from alerts.events import EvaluationOutcome
from alerts.notify.deliver import deliver, deliver_many
from alerts.store.db import session_for
from alerts.store.deliveries import due, next_attempt_at, pending_digests, recover_stale
from alerts.store.models import utcnow
from alerts.usecases.evaluate import evaluate_return
from config import get_settings
from rules.check import load_catalog
from workers.app import app

DIGEST_SEND_SECONDS = 180  # of a chunk task's 240 s soft time limit: planning comes first


def send_deliveries(ids: list[int] | tuple[int, ...]) -> None:
    """Hand outbox rows to the deliver task: in-process when eager, else to the workers."""
    for delivery_id in ids:
        if get_settings().eager:
            deliver_task.apply(args=(delivery_id,))
        else:
            deliver_task.delay(delivery_id)


@app.task(name="kpi_alerts.evaluate_return", autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=300,
          max_retries=5)
def evaluate_return_task(return_id: int) -> EvaluationOutcome:
    settings = get_settings()
    with session_for(settings.database_url) as session:
        outcome = evaluate_return(session, load_catalog(settings.rules_dir), return_id, utcnow(), settings.base_url)
    send_deliveries(outcome.deliveries)  # after commit: the outbox rows exist whatever happens next
    return outcome


def dispatch_evaluation(return_id: int) -> EvaluationOutcome | None:
    """The ingest use case's dispatcher: evaluate in-process when eager (its outcome), else
    queue the task for a worker (None: the caller waits for the stored outcome)."""
    if get_settings().eager:
        return evaluate_return_task.apply(args=(return_id,)).get()
    evaluate_return_task.delay(return_id)
    return None


@app.task(name="kpi_alerts.deliver")
def deliver_task(delivery_id: int) -> str:
    settings = get_settings()
    with session_for(settings.database_url) as session:
        status = deliver(session, settings, delivery_id, utcnow())
        if status == "pending" and not settings.eager:
            # Retry later. The wait lives in the database (next_attempt_at); the countdown is
            # capped far below the broker's visibility timeout so Redis never re-runs it early.
            at = next_attempt_at(session, delivery_id)
            wait = (at.replace(tzinfo=dt.UTC) - utcnow()).total_seconds() if at else 0
            deliver_task.apply_async((delivery_id,), countdown=max(0.0, min(wait, settings.delivery_backoff_max)))
    return status


@app.task(name="kpi_alerts.sweep_deliveries")
def sweep_deliveries_task() -> int:
    """Periodic: stale 'sending' rows become 'unknown'; due retries are sent. Returns how many."""
    settings = get_settings()
    now = utcnow()
    with session_for(settings.database_url) as session:
        recover_stale(session, now, dt.timedelta(seconds=2 * settings.send_timeout + 60))
        ids = due(session, now)
    send_deliveries(ids)
    return len(ids)


@app.task(name="kpi_alerts.digest_week")
def digest_week_task(week: str | None = None) -> dict:
    """Beat's Monday trigger: split the audience into chunks, one task each."""
    from alerts.digest.run import digest_audience
    from alerts.digest.weeks import week_of

    settings = get_settings()
    week = week or week_of(utcnow(), settings.timezone)
    with session_for(settings.database_url) as session:
        audience = sorted(digest_audience(session))
    size = settings.digest_chunk_size
    chunks = [audience[i:i + size] for i in range(0, len(audience), size)]
    for chunk in chunks:
        if settings.eager:
            digest_chunk_task.apply(args=(week, chunk))
        else:
            digest_chunk_task.delay(week, chunk)
    return {"week": week, "subscribers": len(audience), "chunks": len(chunks)}


@app.task(name="kpi_alerts.digest_chunk", autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=300,
          max_retries=5)
def digest_chunk_task(week: str, subscriber_ids: list[int]) -> dict:
    """Plan (ledger + outbox, exactly once per subscriber and week) and send one chunk."""
    from alerts.digest.run import plan_digests

    settings = get_settings()
    with session_for(settings.database_url) as session:
        plan = plan_digests(session, load_catalog(settings.rules_dir), week, settings.timezone, utcnow(),
                            subscriber_ids, settings.base_url, settings.digest_max_rows)
        # a rerun after a crash also sends what an earlier run planned but never sent
        pending = pending_digests(session, week, subscriber_ids)
        # Sent here by the digest sender over one SMTP session, not as one deliver task each
        # (see channels/digest_email.py); whatever is left at the deadline, or when the server
        # is down, stays for the sweep, whose deliver() uses the same sender.
        sent = deliver_many(session, settings, pending, deadline=time.monotonic() + DIGEST_SEND_SECONDS)
    return {"week": week, "queued": len(plan.queued), "skipped": len(plan.skipped), "already": len(plan.already),
            "statuses": dict(sent)}


@app.task(name="kpi_alerts.reminders")
def reminders_task() -> int:
    from alerts.usecases.reminders import send_reminders

    settings = get_settings()
    with session_for(settings.database_url) as session:
        ids = send_reminders(session, load_catalog(settings.rules_dir), utcnow(), settings.base_url)
    send_deliveries(ids)
    return len(ids)
