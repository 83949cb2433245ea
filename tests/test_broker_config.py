"""The Celery configuration keeps the broker's promises (issue 11, section 2; the facts are in
docs/operators.md): separate queues, late acknowledgement, reject on worker lost,
prefetch 1, one scheduler (RedBeat's lock), and every countdown or retry delay the code asks
the broker for at most a quarter of the visibility timeout, which is set explicitly (a longer
delay makes Redis re-run the task in a loop)."""

from __future__ import annotations

import ast
import datetime as dt

import pytest
from celery.schedules import crontab
from pydantic import ValidationError

import workers.tasks  # noqa: F401  (registers the tasks)
from alerts import steps
from config import Settings
from config.settings import BROKER_VISIBILITY_TIMEOUT, MAX_BROKER_COUNTDOWN
from tests.conftest import ROOT
from workers import app as app_module
from workers.app import app, beat_schedule

OURS = sorted(name for name in app.tasks if name.startswith("kpi_alerts."))


def test_every_step_has_its_queue_and_a_worker_takes_all_three():
    assert set(OURS) == set(steps.ROUTES)
    assert app.conf.task_routes == {name: {"queue": q} for name, q in steps.ROUTES.items()}
    assert {q.name for q in app.conf.task_queues} == set(steps.QUEUES) == {"evaluate", "deliver", "digest"}
    # a digest batch never waits in front of a breach notification
    assert steps.ROUTES[steps.EVALUATE] == "evaluate" and steps.ROUTES[steps.DELIVER] == "deliver"
    assert steps.ROUTES[steps.DIGEST_CHUNK] == steps.ROUTES[steps.DIGEST_WEEK] == "digest"


def test_the_publisher_of_ingest_routes_and_times_out_as_the_workers_do():
    producer = steps._producer(Settings(_env_file=None, broker_url="redis://127.0.0.1:1/0"))
    for key in ("task_routes", "task_publish_retry_policy", "broker_connection_timeout", "task_serializer"):
        assert producer.conf[key] == app.conf[key], key
    published, worker = producer.conf.broker_transport_options, app.conf.broker_transport_options
    assert published["visibility_timeout"] == worker["visibility_timeout"] == BROKER_VISIBILITY_TIMEOUT
    # ingest never hangs on a dead or stopped broker: one retry, short connect and read timeouts
    assert producer.conf.task_publish_retry_policy["max_retries"] <= 1
    assert published["socket_connect_timeout"] <= 2 and published["socket_timeout"] <= 2


def test_at_least_once_with_idempotent_tasks():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] == BROKER_VISIBILITY_TIMEOUT


def test_one_scheduler_holds_a_lock_that_outlasts_its_loop():
    from celery.utils.imports import symbol_by_name
    from redbeat import RedBeatScheduler

    assert issubclass(symbol_by_name(app.conf.beat_scheduler), RedBeatScheduler)
    assert app.conf.redbeat_lock_timeout >= 3 * app.conf.beat_max_loop_interval  # else LockNotOwned
    assert app.conf.redbeat_lock_timeout == app_module.BEAT_LOCK_LOOPS * app.conf.beat_max_loop_interval


def test_every_task_retry_delay_stays_below_a_quarter_of_the_visibility_timeout():
    for name in OURS:
        task = app.tasks[name]
        if getattr(task, "autoretry_for", ()):
            assert task.retry_backoff, name  # retries back off (capped by retry_backoff_max)
            assert task.retry_backoff_max <= MAX_BROKER_COUNTDOWN, name
            assert task.max_retries is not None, name
        assert task.default_retry_delay <= MAX_BROKER_COUNTDOWN, name


def test_a_delivery_retry_countdown_is_capped_below_the_visibility_timeout():
    sent = []
    to = steps.ToWorkers(Settings(_env_file=None, broker_url="redis://127.0.0.1:1/0"),
                         lambda name, args=(), **options: sent.append(options))
    to.deliver_later(1, 10 * BROKER_VISIBILITY_TIMEOUT)
    assert sent == [{"countdown": Settings(_env_file=None).delivery_backoff_max}]
    assert sent[0]["countdown"] <= MAX_BROKER_COUNTDOWN


@pytest.mark.parametrize("value", [MAX_BROKER_COUNTDOWN + 1, BROKER_VISIBILITY_TIMEOUT, -1.0])
def test_a_delivery_backoff_cap_above_a_quarter_of_the_visibility_timeout_is_refused(value):
    with pytest.raises(ValidationError, match="KPI_ALERTS_DELIVERY_BACKOFF_MAX"):
        Settings(_env_file=None, delivery_backoff_max=value)


def test_every_interval_in_the_beat_schedule_is_below_the_visibility_timeout():
    for entry in beat_schedule(Settings(_env_file=None)).values():
        schedule = entry["schedule"]
        if not isinstance(schedule, crontab):
            assert 0 < schedule <= MAX_BROKER_COUNTDOWN, entry
        assert entry.get("options", {}).get("expires", 0) <= MAX_BROKER_COUNTDOWN, entry


# Keywords by which code asks the broker (or Celery) for a delay; each use must be known here,
# with the bound that keeps it below a quarter of the visibility timeout.
DELAY_KEYWORDS = {"countdown", "eta", "retry_backoff_max", "default_retry_delay", "expires"}
KNOWN_DYNAMIC = {("alerts/steps.py", "countdown")}  # deliver_later: min(wait, delivery_backoff_max)


def test_no_countdown_in_the_code_exceeds_a_quarter_of_the_visibility_timeout():
    """Every `countdown=`, `eta=`, `retry_backoff_max=`... in alerts/ and workers/: a number
    at most VT/4, or one of the known computed ones above (tested by value above)."""
    found = []
    for path in sorted([*(ROOT / "alerts").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pairs: list[tuple[str, ast.expr]] = []
            if isinstance(node, ast.Call):
                pairs = [(k.arg, k.value) for k in node.keywords if k.arg in DELAY_KEYWORDS]
            elif isinstance(node, ast.Dict):
                pairs = [(k.value, v) for k, v in zip(node.keys, node.values, strict=True)
                         if isinstance(k, ast.Constant) and k.value in DELAY_KEYWORDS]
            for key, value in pairs:
                found.append((where, key))
                if isinstance(value, ast.Constant) and isinstance(value.value, int | float):
                    assert value.value <= MAX_BROKER_COUNTDOWN, (where, key, value.value)
                elif (where, key) not in KNOWN_DYNAMIC and not _bounded_by_known_names(value):
                    raise AssertionError(f"{where}: {key}={ast.unparse(value)} is not a known bounded delay")
    assert ("alerts/steps.py", "countdown") in found and ("workers/tasks.py", "retry_backoff_max") in found


def _bounded_by_known_names(value: ast.expr) -> bool:
    """`max(relay, 1.0)` or `60.0`-like values built from the beat intervals (tested by value)."""
    return "relay" in ast.unparse(value)


def test_the_relay_runs_every_few_seconds_by_default():
    s = Settings(_env_file=None)
    assert s.relay_seconds == 5 and 120 <= s.relay_stale_seconds <= 900
    entry = beat_schedule(s)["relay"]
    assert entry["task"] == steps.RELAY and entry["schedule"] == 5
    assert dt.timedelta(seconds=s.relay_stale_seconds) > dt.timedelta(seconds=app.conf.task_time_limit)
