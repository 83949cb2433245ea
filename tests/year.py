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


TEAMS_CHANNEL = "workflows://prod-00.westeurope.logic.azure.com:443/kpialertsworkflow01/CANARYSIGabcdef0123456789/"


def subscriptions_file(folder: Path, teams: str = TEAMS_CHANNEL) -> Path:
    """alerts/examples/subscriptions.yaml for a year that has not landed yet (`allow_unknown`), with a
    Teams channel that follows everything at amber or worse (the cards of the year)."""
    text = (EXAMPLES.parent / "subscriptions.yaml").read_text()
    path = folder / "subscriptions.yaml"
    path.write_text("allow_unknown: true\n" + text + "  - name: Performance team channel\n"
                    f"    teams: {teams}\n    subscriptions:\n      - min_severity: amber\n")
    return path


def live_year(settings, dispatcher, until: dt.date = UNTIL, digests: bool = True,  # noqa: ANN001
              check_returns: bool = True) -> int:
    """The example year as beat lives it, on a simulated clock: every return landing on its day,
    and at 08:00 local every day the reminders step and the returns check, and on Mondays the
    week's digests planned for every subscriber (ledger and outbox; sent or not as the
    dispatcher's deliver step does). Returns the number of simulated days."""
    import time_machine

    from alerts import steps
    from alerts.digest.run import plan_digests
    from alerts.digest.weeks import week_of
    from alerts.store.db import session_for
    from alerts.usecases.ingest import ReturnLimits, ingest_path
    from rules.loader import load_catalog

    catalog = load_catalog(settings.rules_dir)
    zone = ZoneInfo(settings.timezone)
    days = 0
    for at, file in timeline(until=until, timezone=settings.timezone):
        with time_machine.travel(at, tick=True):
            if file is not None:
                with session_for(settings.database_url) as s:
                    result = ingest_path(s, catalog, file, dispatcher.evaluate, at, limits=ReturnLimits.of(settings))
                assert not result.errors, result.errors
                continue
            days += 1
            steps.reminders(settings, dispatcher, at)
            if check_returns:
                steps.returns_check(settings, dispatcher, at)
            if digests and at.astimezone(zone).weekday() == settings.digest_weekday:
                with session_for(settings.database_url) as s:
                    plan_digests(s, catalog, week_of(at, settings.timezone), settings.timezone, at,
                                 base_url=settings.base_url, max_rows=settings.digest_max_rows,
                                 weekday=settings.digest_weekday)
    return days
