"""Benchmark (of wording, not speed): every message of the example year, as beat would plan it.

The example year lands month by month on a simulated clock (tests/year.py `live_year`: each
return between the 10th and the 15th of the month after its period; reminders and the returns
check every day at 08:00 local; each Monday's digests planned for every subscriber of
alerts/examples/subscriptions.yaml, plus a Teams channel following everything at amber or worse).
Nothing is sent: the outbox rows are read back and counted.

    .venv/bin/python bench/messages_year.py

It prints: digests (weekly and monthly) that say returns are overdue, and how many of those
the expected-returns calendar contradicts at the digest's cut-off (nothing missing); subjects
over 78 characters by kind of message; Teams cards with a backslash in their text; messages
per subscriber. It uses only what main had before issue 17 (tests/year.py aside), so the same
file measures older code: copy tests/year.py into an export of the older commit and run it
there with PYTHONPATH pointing at that export.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.year

from sqlalchemy import select  # noqa: E402

from alerts.digest.load import landed_before, overdue_returns  # noqa: E402
from alerts.digest.weeks import window  # noqa: E402
from alerts.steps import InProcess  # noqa: E402
from alerts.store.db import get_engine, session_for  # noqa: E402
from alerts.store.models import Delivery, Subscriber  # noqa: E402
from alerts.usecases.subscriptions import apply  # noqa: E402
from config import Settings, use_settings  # noqa: E402
from rules.loader import SHIPPED_PACKS, load_catalog  # noqa: E402
from tests.notify.cards import strings  # noqa: E402
from tests.year import live_year, subscriptions_file  # noqa: E402

MAX_SUBJECT = 78


class Planned(InProcess):
    """Evaluates in-process, but leaves the planned outbox rows unsent."""

    def deliver(self, delivery_ids) -> None:  # noqa: ANN001
        pass


def kind_of(d: Delivery) -> str:
    if d.channel == "teams":
        return "teams card"
    if d.key.startswith("digest-"):
        return "digest"
    if d.key.startswith("reminders-"):
        return "reminder"
    return "alert email"


def claims_overdue(d: Delivery) -> bool:
    """The digest's subject or headline (its text before 'Dear ...') says something is overdue."""
    head = d.body_text.split("\nDear ", 1)[0]
    return "overdue" in d.subject.lower() or "overdue" in head.lower()


def measure(db: Path) -> dict:
    settings = Settings(database_url=f"sqlite:///{db}", broker_url="", rules_dir=SHIPPED_PACKS,
                        timezone="Europe/London", base_url="https://alerts.example.org",
                        secret_key="bench-key-0123456789")
    use_settings(settings)
    catalog = load_catalog(settings.rules_dir)
    try:
        with session_for(settings.database_url) as s:
            apply(s, catalog, subscriptions_file(db.parent))
            s.commit()
        days = live_year(settings, Planned(settings))
        with session_for(settings.database_url) as s:
            names = dict(s.execute(select(Subscriber.id, Subscriber.name)).all())
            cadence = dict(s.execute(select(Subscriber.id, Subscriber.digest_cadence)).all())
            rows = list(s.execute(select(Delivery)).scalars())
            truth: dict[str, bool] = {}
            for d in rows:
                if d.key.startswith("digest-"):
                    week = d.key.split(".")[0].removeprefix("digest-")
                    if week not in truth:
                        cutoff = window(week, settings.timezone)[1]
                        truth[week] = bool(overdue_returns(catalog, landed_before(s, cutoff), cutoff,
                                                           settings.timezone))
    finally:
        get_engine(settings.database_url).dispose()
        use_settings(None)
    out: dict = {"days": days, "long": Counter(), "all": Counter(), "longest": {}, "per": Counter(),
                 "digests": Counter(), "examples": {}}
    for d in rows:
        kind = kind_of(d)
        out["all"][kind] += 1
        out["per"][(names[d.subscriber_id], kind)] += 1
        if len(d.subject) > MAX_SUBJECT:
            out["long"][kind] += 1
        if len(d.subject) > len(out["longest"].get(kind, "")):
            out["longest"][kind] = d.subject
        if kind == "teams card" and any("\\" in t for t in strings(json.loads(d.body_text))):
            out["long"]["teams card with a backslash"] += 1
        if kind == "digest":
            week = d.key.split(".")[0].removeprefix("digest-")
            c = cadence[d.subscriber_id]
            out["digests"][(c, "all")] += 1
            if claims_overdue(d):
                out["digests"][(c, "claim overdue")] += 1
                if not truth[week]:
                    out["digests"][(c, "falsely")] += 1
                    out["examples"].setdefault(c, d.subject)
            elif truth[week]:
                out["digests"][(c, "silent though overdue")] += 1
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kpi-alerts-messages-") as tmp:
        r = measure(Path(tmp) / "year.db")
    print(f"Example year lived on {r['days']} simulated days; every planned message read back.\n")
    print("Digests                      all  claim overdue  calendar says none missing  silent though overdue")
    for c in ("weekly", "monthly"):
        d = r["digests"]
        print(f"  {c:<25} {d[(c, 'all')]:>5} {d[(c, 'claim overdue')]:>14} {d[(c, 'falsely')]:>27} "
              f"{d[(c, 'silent though overdue')]:>22}")
    for c, subject in r["examples"].items():
        print(f"  e.g. ({c}) {subject}")
    print(f"\nSubjects over {MAX_SUBJECT} characters, by kind of message (of all)")
    for kind in ("alert email", "reminder", "digest", "teams card"):
        print(f"  {kind:<14} {r['long'][kind]:>4} of {r['all'][kind]:<4} longest {len(r['longest'].get(kind, ''))}: "
              f"{r['longest'].get(kind, '')}")
    print(f"\nTeams cards with a backslash in their text: {r['long']['teams card with a backslash']} of "
          f"{r['all']['teams card']}")
    print("\nMessages per subscriber")
    for (name, kind), n in sorted(r["per"].items()):
        print(f"  {name:<36} {kind:<12} {n:>4}")


if __name__ == "__main__":
    main()
