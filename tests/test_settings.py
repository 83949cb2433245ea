"""Settings refuse what would break later: a send timeout the task limit would cut short, a
digest time beat cannot schedule. Errors name the environment variable to fix."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pydantic import ValidationError

from config import Settings
from config.settings import TASK_SOFT_TIME_LIMIT
from workers.app import beat_schedule


@pytest.mark.parametrize("value", ["07:30", "7:30", "00:00", "23:59", " 06:05 "])
def test_digest_time_from_the_environment_is_a_time(monkeypatch, value):
    monkeypatch.setenv("KPI_ALERTS_DIGEST_TIME", value)
    hour, minute = (int(x) for x in value.split(":"))
    assert Settings(_env_file=None).digest_time == dt.time(hour, minute)


def test_digest_time_defaults_to_0730():
    assert Settings(_env_file=None).digest_time == dt.time(7, 30)


@pytest.mark.parametrize("value", ["7.30", "25:00", "07:60", "0730", "", "seven", "07:30:00", "-1:30"])
def test_a_bad_digest_time_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("KPI_ALERTS_DIGEST_TIME", value)
    with pytest.raises(ValidationError, match="KPI_ALERTS_DIGEST_TIME must be a time of day as HH:MM"):
        Settings(_env_file=None)


def test_beat_sends_the_digest_at_the_configured_time():
    schedule = beat_schedule(Settings(_env_file=None, digest_weekday=2, digest_time="06:05"))["weekly-digest"][
        "schedule"]
    assert (schedule.hour, schedule.minute, schedule.day_of_week) == ({6}, {5}, {3})  # crontab: Sunday is 0


@pytest.mark.parametrize("value", [0.5, 30, TASK_SOFT_TIME_LIMIT - 1])
def test_a_usable_send_timeout_is_kept(value):
    assert Settings(_env_file=None, send_timeout=value).send_timeout == value


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, TASK_SOFT_TIME_LIMIT, 3600])
def test_a_send_timeout_that_cannot_work_is_refused(value):
    with pytest.raises(ValidationError, match="KPI_ALERTS_SEND_TIMEOUT must be a number of seconds above 0"):
        Settings(_env_file=None, send_timeout=value)


def test_send_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("KPI_ALERTS_SEND_TIMEOUT", "1e9")
    with pytest.raises(ValidationError, match="below the task time limit"):
        Settings(_env_file=None)
