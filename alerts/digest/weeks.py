"""ISO weeks and the window a week's digest covers. Pure."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def parse_week(week: str) -> tuple[int, int]:
    try:
        year, w = week.upper().split("-W")
        dt.date.fromisocalendar(int(year), int(w), 1)
        return int(year), int(w)
    except ValueError:
        raise ValueError(f"expected an ISO week such as 2025-W12, got {week!r}") from None


def week_of(moment: dt.datetime, timezone: str) -> str:
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(week: str) -> str:
    year, w = parse_week(week)
    monday = dt.date.fromisocalendar(year, w, 1) - dt.timedelta(days=7)
    y, pw, _ = monday.isocalendar()
    return f"{y}-W{pw:02d}"


def week_days(week: str) -> tuple[dt.date, dt.date]:
    """The first and last calendar day the digest for ISO week W covers: the seven days
    before W's Monday."""
    year, w = parse_week(week)
    monday = dt.date.fromisocalendar(year, w, 1)
    return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)


def window(week: str, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The digest for ISO week W covers the seven days before W's Monday (local midnight)."""
    year, w = parse_week(week)
    zone = ZoneInfo(timezone)
    monday = dt.date.fromisocalendar(year, w, 1)
    # Local midnights at both ends: the week the clocks change is 167 or 169 hours long.
    start = dt.datetime.combine(monday - dt.timedelta(days=7), dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(monday, dt.time.min, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
