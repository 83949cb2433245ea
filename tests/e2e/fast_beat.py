"""The workers' Celery app with beat on a fast schedule, for the two-beats tests
(tests/e2e/test_relay.py, tests/e2e/test_stack.py): the weekly digest, the reminders and the
missing-returns check every second instead of weekly and daily, the relay and the inbox scan
every second, and RedBeat's loop and lock scaled down to match. The same tasks, the same
scheduler and lock: only the intervals differ. `celery -A tests.e2e.fast_beat beat`."""

from __future__ import annotations

from alerts import steps
from workers.app import app

app.conf.beat_schedule = {
    "weekly-digest": {"task": steps.DIGEST_WEEK, "schedule": 1.0},
    "reminders": {"task": steps.REMINDERS, "schedule": 1.0},
    "relay": {"task": steps.RELAY, "schedule": 1.0, "options": {"expires": 1.0}},
    "returns-check": {"task": steps.RETURNS_CHECK, "schedule": 1.0},
    "inbox-scan": {"task": steps.INBOX_SCAN, "schedule": 1.0},
}
app.conf.beat_max_loop_interval = 1
app.conf.redbeat_lock_timeout = 5

__all__ = ["app"]
