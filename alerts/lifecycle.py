"""An alert's next state: a pure function of its current state and its rated series.

An alert exists per (rule, subject) and follows the latest rated period. A late return for
an older period changes the series but not its last entry, so it cannot override the state
a newer period set (it can only complete a `for_periods` streak).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from rules.model import Rating
from rules.periods import period_index

TransitionKind = Literal["opened", "escalated", "deescalated", "resolved"]


@dataclass(frozen=True)
class Transition:
    from_state: Rating | None
    to_state: Rating
    kind: TransitionKind


def trailing_run(series: Sequence[tuple[str, str | None]],
                 member: Callable[[str | None], bool]) -> tuple[str | None, int]:
    """(first period, months) of the run of consecutive months ending at the latest entry whose
    rating satisfies `member`. A month with no entry breaks the run: N months means N calendar
    months in a row, as `for_periods` counts them. `series` is sorted by period, one entry each."""
    since, months, expected = None, 0, None
    for period, rating in reversed(series):
        idx = period_index(period)
        if not member(rating) or (expected is not None and idx != expected):
            break
        since, months, expected = period, months + 1, idx - 1
    return since, months


def _outside(rating: str | None) -> bool:
    return rating is not None and rating != Rating.GREEN  # unrated is not "outside green"


def outside_green(series: Sequence[tuple[str, str | None]]) -> tuple[str | None, int]:
    """THE months-outside-green answer (alerts, notifications, digests): (first period, months)
    of the trailing run of consecutive non-green months."""
    return trailing_run(series, _outside)


def nongreen_streak(series: Sequence[tuple[str, str | None]]) -> int:
    return outside_green(series)[1]


def state_since(series: Sequence[tuple[str, str | None]], state: str) -> str:
    """First period of the trailing run of consecutive months rated `state` (the latest period
    when the latest rating is another: a pending alert stays green from now)."""
    since, _ = trailing_run(series, lambda r: r == state)
    return since or series[-1][0]


def target_state(current: Rating | None, series: Sequence[tuple[str, Rating]], for_periods: int = 1) -> Rating | None:
    """The state the alert should be in. `series` is sorted by period, one rating each."""
    if not series:
        return current
    latest = series[-1][1]
    if latest is Rating.GREEN:
        return Rating.GREEN
    if current in (Rating.AMBER, Rating.RED):
        return latest  # already open: follow the latest rating (escalate / de-escalate)
    if nongreen_streak(series) >= for_periods:
        return latest
    return current or Rating.GREEN  # pending: not yet N periods outside green


def transition(current: Rating | None, new: Rating | None) -> Transition | None:
    """The event for moving from `current` to `new`; None when nothing changes."""
    if new is None or new is current:
        return None
    if new is Rating.GREEN:
        return Transition(current, new, "resolved") if current in (Rating.AMBER, Rating.RED) else None
    if current in (None, Rating.GREEN):
        return Transition(current, new, "opened")
    return Transition(current, new, "escalated" if new is Rating.RED else "deescalated")


def next_state(
    current: Rating | None, series: Sequence[tuple[str, Rating]], for_periods: int = 1
) -> tuple[Rating | None, Transition | None]:
    new = target_state(current, series, for_periods)
    return new, transition(current, new)


def _local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def reminder_week(now: dt.datetime, weekday: int, timezone: str = "UTC") -> str | None:
    """The ISO week ('2025-W15') whose reminders go out at `now`, or None when `now` is not on
    the reminder weekday (0 = Monday) in `timezone`: a week's reminders go in one batch, on
    one day, whatever runs the step on the other six."""
    local = now.astimezone(ZoneInfo(timezone))
    if local.weekday() != weekday:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def reminder_due(state: str, red_since: dt.datetime | None, last_reminder: dt.datetime | None,
                 now: dt.datetime, reminder_days: int, *, landed: dt.datetime | None = None,
                 acknowledged: dt.datetime | None = None, timezone: str = "UTC",
                 next_due: dt.date | None = None) -> bool:
    """Whether a red alert reminds at `now`. Reminders follow the returns, not a timer, and
    each adds something (a newer return that kept it red, or one now due):

    - the alert is red, and turned red (`red_since`: its last opened/escalated-to-red event) at
      least `reminder_days` local calendar days ago;
    - none before the next return of its kind is due: `next_due` (the expected-returns
      calendar's due day of the return after the one the alert last stood on when it turned red
      or last reminded) has come (local date);
    - after a reminder, the next needs a newer return of the rule's kind (kpi, finance or
      caseload) for the alert's provider: `landed` (the latest such return's landing) is after
      `last_reminder`. So an alert reminds at most once between two returns, and
      `reminder_days` is a minimum gap (in local calendar days), not a period;
    - never in the ISO week (local) of the last reminder;
    - after an acknowledgement, none until a return lands after it (`landed` > `acknowledged`);
      that return re-enables one reminder.

    Days are counted as local calendar days, so a reminder sent on Monday at 08:00:05 lets the
    next one go out on the Monday a week later at 08:00:01. Pure: the caller loads the instants."""
    if state != "red" or red_since is None:
        return False
    zone = ZoneInfo(timezone)
    today = _local_day(now, zone)
    if (today - _local_day(red_since, zone)).days < reminder_days:
        return False
    if next_due is not None and today < next_due:
        return False
    if acknowledged is not None and (landed is None or landed <= acknowledged):
        return False
    if last_reminder is None:
        return True
    last_day = _local_day(last_reminder, zone)
    if (today - last_day).days < reminder_days or today.isocalendar()[:2] == last_day.isocalendar()[:2]:
        return False
    return landed is not None and landed > last_reminder
