"""Benchmark (of noise, not speed): the emails each subscriber of alerts/examples/subscriptions.yaml
gets over the example year, split into immediate (a return's changes) and reminder emails.

The example returns land month by month on a simulated clock (each between the 10th and the
15th of the month after its period: tests/year.py), and the reminders step runs every
simulated day at 08:00 local, as beat runs it. Emails are counted as the outbox rows the
pipeline plans (one per subscriber, channel and message); nothing is sent.

    .venv/bin/python bench/reminders_year.py

It uses only what main had before reminders followed the returns (steps.reminders, the
ingest use case), so the same file measures the code before the change too, e.g. from a
worktree of the older commit: PYTHONPATH=/path/to/old/tree .venv/bin/python bench/reminders_year.py
(with tests/year.py copied there).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.year

from alerts import steps  # noqa: E402
from alerts.examples import SUBSCRIPTIONS  # noqa: E402
from alerts.steps import InProcess  # noqa: E402
from alerts.store.db import get_engine, session_for  # noqa: E402
from alerts.usecases.ingest import ReturnLimits, ingest_path  # noqa: E402
from alerts.usecases.subscriptions import apply  # noqa: E402
from config import Settings, use_settings  # noqa: E402
from rules.loader import SHIPPED_PACKS, load_catalog  # noqa: E402
from tests.year import UNTIL, timeline  # noqa: E402

TIMEZONE = "Europe/London"


class Planned(InProcess):
    """Evaluates in-process as the embedded default does, but leaves the planned outbox rows
    unsent: the benchmark counts what would go out."""

    def deliver(self, delivery_ids) -> None:  # noqa: ANN001
        pass


def run(db: Path) -> dict:
    settings = Settings(database_url=f"sqlite:///{db}", broker_url="", rules_dir=SHIPPED_PACKS, timezone=TIMEZONE)
    use_settings(settings)
    catalog = load_catalog(settings.rules_dir)
    subs = db.parent / "subscriptions.yaml"
    subs.write_text("allow_unknown: true\n" + SUBSCRIPTIONS.read_text())
    dispatcher = Planned(settings)
    runs = 0
    start = time.perf_counter()
    try:
        with session_for(settings.database_url) as s:
            apply(s, catalog, subs)
            s.commit()
        for at, file in timeline():
            with time_machine.travel(at, tick=True):
                if file is None:
                    steps.reminders(settings, dispatcher)
                    runs += 1
                    continue
                with session_for(settings.database_url) as s:
                    result = ingest_path(s, catalog, file, dispatcher.evaluate, at,
                                         limits=ReturnLimits.of(settings))
                assert not result.errors, result.errors
    finally:
        get_engine(settings.database_url).dispose()
        use_settings(None)
    return {"runs": runs, "seconds": time.perf_counter() - start}


def counts(db: Path) -> dict[str, dict]:
    """Per subscriber: immediate and reminder emails (email channel), Teams posts, and the most
    reminder emails in one ISO week (local time)."""
    zone = ZoneInfo(TIMEZONE)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, d.channel, d.key, d.created_at FROM deliveries d "
                            "JOIN subscribers s ON s.id = d.subscriber_id ORDER BY d.id").fetchall()
        names = [n for (n,) in conn.execute("SELECT name FROM subscribers ORDER BY id")]
    conn.close()
    out: dict[str, dict] = {n: {"immediate": 0, "reminder": 0, "week_max": 0} for n in names}
    weeks: dict[str, Counter] = defaultdict(Counter)
    for name, channel, key, created in rows:
        if channel != "email":
            continue
        if key.startswith("reminders-"):
            out[name]["reminder"] += 1
            at = dt.datetime.fromisoformat(created)
            at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            year, week, _ = at.astimezone(zone).isocalendar()
            weeks[name][(year, week)] += 1
        elif key.startswith("return-"):
            out[name]["immediate"] += 1
    for name, per_week in weeks.items():
        out[name]["week_max"] = max(per_week.values())
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kpi-alerts-reminders-") as tmp:
        db = Path(tmp) / "year.db"
        info = run(db)
        table = counts(db)
    print(f"Example year landed month by month, reminders step run on {info['runs']} simulated days "
          f"(to {UNTIL}), {info['seconds']:.1f} s")
    print(f"{'subscriber':<36} {'immediate':>9} {'reminder':>9} {'total':>6} {'most reminders in a week':>25}")
    for name, c in table.items():
        print(f"{name:<36} {c['immediate']:>9} {c['reminder']:>9} {c['immediate'] + c['reminder']:>6} "
              f"{c['week_max']:>25}")


if __name__ == "__main__":
    main()
