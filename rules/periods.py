"""Monthly periods, always held as 'YYYY-MM' strings (they sort correctly as text)."""

from __future__ import annotations

import datetime as dt


def period_start(period: str) -> dt.date:
    year, month = period.split("-")
    return dt.date(int(year), int(month), 1)


def period_index(period: str) -> int:
    """Months since year 0: consecutive periods differ by exactly 1."""
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def period_from_index(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def next_period(period: str) -> str:
    return period_from_index(period_index(period) + 1)
