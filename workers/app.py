"""The Celery app, for KPI_ALERTS_BROKER_URL: Redis, workers and beat. Without a broker
nothing here runs: the steps run in-process (alerts/steps.py), so a newcomer needs nothing
but Python."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

from alerts import steps
from config import get_settings
from config.settings import TASK_SOFT_TIME_LIMIT


def make_app() -> Celery:
    from alerts.notify.redact import install_log_redaction

    settings = get_settings()
    install_log_redaction([settings.email_url, settings.broker_url])  # passwords never reach worker logs
    app = Celery("kpi_alerts", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        timezone=settings.timezone,
        task_serializer="json",
        accept_content=["json"],
        # At-least-once with idempotent tasks (see ../README "Reliability"): ack after the
        # task returns, requeue if the worker dies, one message at a time per process.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_SOFT_TIME_LIMIT + 60,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT,  # Settings keeps send_timeout below it
        broker_transport_options={"visibility_timeout": 3600},
        task_ignore_result=True,
        beat_schedule=beat_schedule(settings.digest_weekday, settings.digest_time),
    )
    if settings.inbox_dir is not None:  # the inbox folder, every KPI_ALERTS_INBOX_SCAN_SECONDS
        app.conf.beat_schedule["inbox-scan"] = {"task": steps.INBOX_SCAN, "schedule": settings.inbox_scan_seconds}
    return app


def check_rule_packs(**_: Any) -> None:
    """Workers and beat refuse to start on a rule pack that fails `kpi-alerts rules check`:
    every problem as FILE:LINE: message on stderr, then exit 78 (EX_CONFIG)."""
    from rules.loader import PackError, load_catalog

    rules_dir = get_settings().rules_dir
    err = sys.__stderr__ or sys.stderr  # beat has already sent sys.stderr to its logger
    try:
        load_catalog(rules_dir)
    except PackError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"kpi-alerts: refusing to start: {len(exc.problems)} problem(s) in the rule packs at {rules_dir}",
              file=err, flush=True)
        raise SystemExit(78) from None


def check_database(**_: Any) -> None:
    """Workers and beat refuse to start on a database that is not at the latest schema revision
    (nothing upgrades by itself with a broker set: `kpi-alerts db upgrade`, the compose `migrate`
    service): the reason on stderr, then exit 78 (EX_CONFIG)."""
    from alerts.store.db import require_latest
    from alerts.store.schema import SchemaNotCurrent

    err = sys.__stderr__ or sys.stderr
    try:
        require_latest(get_settings().database_url)
    except SchemaNotCurrent as exc:
        print(f"kpi-alerts: refusing to start: {exc}", file=err, flush=True)
        raise SystemExit(78) from None


for _signal in (signals.worker_init, signals.beat_init):
    _signal.connect(check_rule_packs, weak=False)
    _signal.connect(check_database, weak=False)


def beat_schedule(weekday: int, at: dt.time) -> dict:
    """Times are local (app timezone = KPI_ALERTS_TIMEZONE): Celery keeps 07:30 at 07:30
    across the clock changes. Duplicates are harmless: every task is idempotent (ledgers)."""
    return {
        "weekly-digest": {"task": steps.DIGEST_WEEK,
                          "schedule": crontab(minute=at.minute, hour=at.hour, day_of_week=(weekday + 1) % 7)},
        "sweep-deliveries": {"task": steps.SWEEP, "schedule": 60.0},
        # daily at 08:00; the step sends only on KPI_ALERTS_REMINDER_WEEKDAY (one batch a week)
        "reminders": {"task": steps.REMINDERS, "schedule": crontab(minute=0, hour=8)},
        # daily at 06:00: a return missing past its due day and grace opens its alert (idempotent)
        "returns-check": {"task": steps.RETURNS_CHECK, "schedule": crontab(minute=0, hour=6)},
    }


app = make_app()
