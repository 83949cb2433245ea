"""The example year as it would really arrive: each return lands on its own day, between the
10th and the 15th of the month after its period, and beat's daily reminders run at 08:00
local time every day in between. Shared by the reminders tests and bench/reminders_year.py.

`timeline()` yields (UTC instant, file) in time order; a file of None is a run of the
reminders step. Landings are at 09:00 UTC, after that day's reminders run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.cli.demo import example_files
from alerts.examples import SANDWELL

EXAMPLES = SANDWELL
UNTIL = dt.date(2026, 3, 31)  # six weeks after the last return (finance 2026-01) has landed


def landing_day(period: str, index: int) -> dt.datetime:
    """The 10th to the 15th of the month after `period` (by the file's place in the year)."""
    year, month = (int(x) for x in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dt.datetime(year, month, 10 + index % 6, 9, 0, tzinfo=dt.UTC)


def landings(folder: Path = EXAMPLES) -> list[tuple[dt.datetime, Path]]:
    """When each example return lands: KPI returns monthly, caseloads and finance in the month
    after their own period."""
    return sorted((landing_day(f.stem.split("-", 1)[1], i), f) for i, f in enumerate(example_files(folder)))


def timeline(folder: Path = EXAMPLES, until: dt.date = UNTIL, timezone: str = "Europe/London", hour: int = 8
             ) -> Iterator[tuple[dt.datetime, Path | None]]:
    """Every landing, and a reminders run at `hour`:00 local every day from the first landing
    to `until`, in time order."""
    events: list[tuple[dt.datetime, Path | None]] = list(landings(folder))
    zone = ZoneInfo(timezone)
    day = events[0][0].date()
    while day <= until:
        events.append((dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.UTC), None))
        day += dt.timedelta(days=1)
    yield from sorted(events, key=lambda e: (e[0], e[1] is not None))
