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


def upcoming_week(moment: dt.datetime, timezone: str) -> str:
    """The week whose digest covers `moment` (it goes out the Monday after): the position now."""
    return week_of(moment + dt.timedelta(days=7), timezone)


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


# --- cadence: weekly (every digest day) or monthly (the first digest day of each month) -----

CADENCES = ("weekly", "monthly")


def digest_day(week: str, weekday: int) -> dt.date:
    """The calendar day week W's digest goes out: its `weekday` (0 Monday, as
    KPI_ALERTS_DIGEST_WEEKDAY), a local date."""
    year, w = parse_week(week)
    return dt.date.fromisocalendar(year, w, 1) + dt.timedelta(days=weekday)


def is_monthly_week(week: str, weekday: int) -> bool:
    """Whether week W's digest day is the first digest day of its calendar month (the first
    such weekday of the month): the week a monthly subscriber's digest goes out."""
    return digest_day(week, weekday).day <= 7


def _shift(week: str, weeks: int) -> str:
    year, w = parse_week(week)
    y, nw, _ = (dt.date.fromisocalendar(year, w, 1) + dt.timedelta(weeks=weeks)).isocalendar()
    return f"{y}-W{nw:02d}"


def previous_monthly_week(week: str, weekday: int) -> str:
    """The latest week before W whose digest day is the first of its month (four or five weeks
    back when W is one itself)."""
    back = _shift(week, -1)
    while not is_monthly_week(back, weekday):
        back = _shift(back, -1)
    return back


def next_monthly_week(week: str, weekday: int) -> str:
    """W itself when its digest day is the first of its month, else the next such week."""
    while not is_monthly_week(week, weekday):
        week = _shift(week, 1)
    return week


def monthly_window(week: str, weekday: int, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """A monthly digest covers the weeks since the last monthly digest: from the end of the
    window of the previous month's digest week to the end of W's (local midnights), so
    consecutive monthly digests neither overlap nor leave a gap, as weekly ones do."""
    return window(previous_monthly_week(week, weekday), timezone)[1], window(week, timezone)[1]


def monthly_days(week: str, weekday: int) -> tuple[dt.date, dt.date]:
    """The first and last calendar day a monthly digest of W covers."""
    return week_days(previous_monthly_week(week, weekday))[1] + dt.timedelta(days=1), week_days(week)[1]
