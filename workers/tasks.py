"""Thin Celery tasks: each runs one step of alerts/steps.py under the step's own name, and
hands what comes next back to the workers (ids only)."""

from __future__ import annotations

from collections import Counter

from alerts import steps
from alerts.events import EvaluationOutcome
from alerts.store.errors import UNREACHABLE
from config import Settings, get_settings
from workers.app import app

# Worth retrying: the broker or a mail server away (OSError), the database restarting or a
# dropped connection. Each task is idempotent, keyed by what it processes, so a retry of one
# that got halfway does nothing twice (a delivery claimed before its send is never re-sent).
TRANSIENT = (OSError, *UNREACHABLE)


def _next(settings: Settings) -> steps.Dispatcher:
    """Inside a worker the next step is published to the workers; run by hand without a
    broker (`task.apply()`), it runs here."""
    return steps.ToWorkers(settings, app.send_task) if not settings.eager else steps.InProcess(settings)


@app.task(name=steps.EVALUATE, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=5)
def evaluate_return_task(return_id: int) -> EvaluationOutcome:
    settings = get_settings()
    return steps.evaluate(settings, _next(settings), return_id)


@app.task(name=steps.DELIVER, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=5)
def deliver_task(delivery_id: int) -> str:
    settings = get_settings()
    return steps.deliver(settings, _next(settings), delivery_id)


@app.task(name=steps.SWEEP)
def sweep_deliveries_task() -> int:
    settings = get_settings()
    return steps.sweep(settings, _next(settings))


@app.task(name=steps.DIGEST_WEEK)
def digest_week_task(week: str | None = None) -> dict:
    settings = get_settings()
    return steps.digest_week(settings, _next(settings), week)


@app.task(name=steps.DIGEST_CHUNK, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300,
          max_retries=5)
def digest_chunk_task(week: str, subscriber_ids: list[int]) -> dict:
    return steps.digest_chunk(get_settings(), week, subscriber_ids)


@app.task(name=steps.REMINDERS)
def reminders_task() -> int:
    settings = get_settings()
    return steps.reminders(settings, _next(settings))


@app.task(name=steps.INBOX_SCAN)
def inbox_scan_task() -> dict:
    settings = get_settings()
    return dict(Counter(o.status for o in steps.inbox_scan(settings, _next(settings))))


@app.task(name=steps.RETURNS_CHECK)
def returns_check_task() -> int:
    settings = get_settings()
    return steps.returns_check(settings, _next(settings))


@app.task(name=steps.RELAY)
def relay_task() -> int:
    settings = get_settings()
    return steps.relay(settings, None if settings.eager else steps.ToWorkers(settings, app.send_task))


@app.task(name=steps.HOLDS)
def holds_task() -> dict:
    settings = get_settings()
    return steps.holds(settings, _next(settings))


@app.task(name=steps.SIGNIN_MAIL, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=60, max_retries=5)
def signin_mail_task(request_id: int) -> str:
    return steps.signin_mail(get_settings(), request_id)
