"""The Celery app, for KPI_ALERTS_BROKER_URL: Redis, workers and beat. Without a broker
nothing here runs: the steps run in-process (alerts/steps.py), so a newcomer needs nothing
but Python."""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis.exceptions
from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue
from redbeat import RedBeatScheduler
from redbeat.schedulers import get_redis

from alerts import steps
from config import Settings, get_settings
from config.settings import TASK_SOFT_TIME_LIMIT

log = logging.getLogger(__name__)


def make_app() -> Celery:
    from alerts.notify.redact import install_log_redaction

    settings = get_settings()
    install_log_redaction([settings.email_url, settings.broker_url])  # passwords never reach worker logs
    app = Celery("kpi_alerts", include=["workers.tasks"])
    app.conf.update(
        # broker URL, serializer, routes (evaluate / deliver / digest), publish timeouts and the
        # visibility timeout: the same as the publisher of `ingest` and the API (alerts/steps.py)
        steps.broker_conf(settings),
        task_queues=[Queue(name, routing_key=name) for name in steps.QUEUES],  # a bare worker takes all three
        timezone=settings.timezone,
        # At-least-once with idempotent tasks (see docs/operators.md): ack after the
        # task returns, requeue if the worker dies, one message at a time per process.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_SOFT_TIME_LIMIT + 60,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT,  # Settings keeps send_timeout below it
        task_ignore_result=True,
        beat_schedule=beat_schedule(settings),
        # Exactly one effective scheduler: beat keeps its schedule in Redis and ticks only while
        # it holds RedBeat's lock, so a second beat started by mistake waits (and takes over within
        # BEAT_LOCK_SECONDS of the first dying). The tasks are idempotent besides (ledgers, keys).
        beat_scheduler="workers.app:Scheduler",  # RedBeat, after the rule-pack check
        redbeat_redis_url=settings.broker_url or None,
        redbeat_key_prefix="kpi-alerts:redbeat:",
        redbeat_lock_key="kpi-alerts:redbeat:lock",
        redbeat_redis_options={"socket_connect_timeout": steps.PUBLISH_CONNECT_TIMEOUT,
                               "socket_timeout": steps.WORKER_READ_TIMEOUT,
                               "retry_period": 60},  # Redis briefly away: beat retries for a minute
        # the longest beat sleeps between ticks (KPI_ALERTS_BEAT_INTERVAL_SECONDS); the standby
        # retries the lock as often; the lock outlasts several loops (else LockNotOwned)
        beat_max_loop_interval=settings.beat_interval_seconds,
        redbeat_lock_timeout=BEAT_LOCK_LOOPS * settings.beat_interval_seconds,
    )
    return app


BEAT_LOCK_LOOPS = 5  # RedBeat's lock lasts this many beat loops


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


class Scheduler(RedBeatScheduler):
    """RedBeat's scheduler (its lock: one effective beat), made only once the rule packs pass:
    beat builds its scheduler, which reads and writes the schedule in Redis, before `beat_init`,
    so a failing pack, or a database behind the code, is refused (exit 78) before the broker is needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_rule_packs()
        check_database()
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """RedBeat's tick, kept alive through a Redis outage: while Redis cannot be reached the
        tick is skipped (nothing could be published anyway; the relay catches up once it is
        back), where RedBeat would let beat die on extending its lock. A lock that expired
        meanwhile (or a Redis restarted empty) is taken again if it is free; held by another
        beat, this one exits (its supervisor restarts it as the standby), so there is still one
        effective scheduler. A schedule that vanished with a Redis restarted empty is installed
        again: RedBeat reads its due entries from Redis alone, and would tick on sending nothing.
        Each tick that ran records beat's heartbeat (/healthz, /metrics)."""
        try:
            interval = super().tick(*args, **kwargs)
            self._ensure_schedule()
        except redis.exceptions.LockNotOwnedError:
            if self.lock is not None and self.lock.acquire(blocking=False):
                log.warning("beat: the lock expired while Redis was away; taken again")
                return 0.0
            log.error("beat: another beat holds the lock now; exiting (restart me as the standby)")
            raise SystemExit(1) from None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("beat: Redis unreachable (%s); ticking again in %g s", type(exc).__name__, self.max_interval)
            return float(self.max_interval)
        self._heartbeat()
        return interval

    def _ensure_schedule(self) -> None:
        """Install the schedule again when its sorted set is gone from Redis (a restart without
        persistence, a FLUSHALL): called holding the lock, after the tick extended it. The
        entries start afresh (last run: now), so each interval task runs one interval later."""
        if self.app.redbeat_conf.schedule and not get_redis(self.app).exists(self.app.redbeat_conf.schedule_key):
            log.warning("beat: the schedule is gone from Redis (restarted empty?); installing it again")
            self.setup_schedule()

    def _heartbeat(self) -> None:
        """Record this tick (heartbeats 'beat'); a database that does not answer is logged, never
        fatal: the schedule goes on, and /healthz shows the tick growing old."""
        from alerts.store.db import session_for
        from alerts.store.heartbeats import SCHEDULER, record
        from alerts.store.models import utcnow

        try:
            with session_for(get_settings().database_url) as session:
                record(session, SCHEDULER, utcnow())
        except Exception as exc:
            log.warning("beat: could not record its heartbeat (%s)", type(exc).__name__)


def beat_schedule(settings: Settings) -> dict:
    """Times are local (app timezone = KPI_ALERTS_TIMEZONE): Celery keeps 07:30 at 07:30
    across the clock changes. Duplicates are harmless: every task is idempotent (ledgers). An
    interval task's message expires after its interval: a backlog never piles up copies."""
    at, weekday, relay = settings.digest_time, settings.digest_weekday, settings.relay_seconds
    schedule = {
        "weekly-digest": {"task": steps.DIGEST_WEEK,
                          "schedule": crontab(minute=at.minute, hour=at.hour, day_of_week=(weekday + 1) % 7)},
        "sweep-deliveries": {"task": steps.SWEEP, "schedule": 60.0, "options": {"expires": 60.0}},
        # daily at 08:00; the step sends only on KPI_ALERTS_REMINDER_WEEKDAY (one batch a week)
        "reminders": {"task": steps.REMINDERS, "schedule": crontab(minute=0, hour=8)},
        # daily at 06:00: a return missing past its due day and grace opens its alert (idempotent)
        "returns-check": {"task": steps.RETURNS_CHECK, "schedule": crontab(minute=0, hour=6)},
        "relay": {"task": steps.RELAY, "schedule": relay, "options": {"expires": max(relay, 1.0)}},
        # held returns: release those past KPI_ALERTS_QUERY_HOLD_HOURS, tell the performance team of new ones
        "holds": {"task": steps.HOLDS, "schedule": 300.0, "options": {"expires": 300.0}},
    }
    if settings.inbox_dir is not None:  # the inbox folder, every KPI_ALERTS_INBOX_SCAN_SECONDS
        schedule["inbox-scan"] = {"task": steps.INBOX_SCAN, "schedule": settings.inbox_scan_seconds}
    return schedule


def relay_at_start(sender: Any = None, **_: Any) -> None:
    """A worker's first act: publish every return still awaiting evaluation (the broker was down
    when it landed, or a worker died with it). A failure is logged, never fatal: beat's relay runs
    every few seconds. The engine is disposed after, so pool processes forked later never share
    its connections."""
    from alerts.store.db import get_engine

    settings = get_settings()
    if settings.eager:
        return
    try:
        published = steps.relay(settings, steps.ToWorkers(settings, app.send_task))
        if published:
            log.info("relay: published %d return(s) awaiting evaluation", published)
    except Exception:
        log.warning("relay at worker start failed; beat's relay retries", exc_info=True)
    finally:
        get_engine(settings.database_url).dispose()


signals.worker_ready.connect(relay_at_start, weak=False)


app = make_app()
