"""Benchmark: weekly digests for 10,000 subscribers with mixed subscriptions over a year of
national-scale data (153 providers x 15 KPIs x 12 months), rendered and handed to a local
SMTP sink (aiosmtpd on 127.0.0.1, counting only).

As in production, the audience is split into chunks (KPI_ALERTS_DIGEST_CHUNK_SIZE, 500) worked
in parallel by one worker process per core, each doing what workers.tasks.digest_chunk_task
does: plan the chunk (compose + render + ledger + outbox, one transaction), then send it with
deliver_many (claim, send, record per digest; one SMTP session per chunk).
Target: <= 60 s wall on the 2-core machine.

    .venv/bin/python bench/digest_batch.py [--subscribers N] [--processes P] [--chunk C]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench.* and tests.peers (the SMTP sink)

from sqlalchemy import func, insert, select  # noqa: E402

from alerts.digest.run import plan_digests  # noqa: E402
from alerts.digest.weeks import parse_week, week_of  # noqa: E402
from alerts.notify.deliver import deliver_many  # noqa: E402
from alerts.steps import InProcess  # noqa: E402
from alerts.store.db import get_engine, session_for  # noqa: E402
from alerts.store.models import Delivery, Subscriber, Subscription, utcnow  # noqa: E402
from alerts.usecases.ingest import ReturnLimits, ingest_bytes  # noqa: E402
from bench.floors import bare_smtp, message  # noqa: E402
from bench.ingest_national import MONTHS, return_csv, suite_2024  # noqa: E402
from config import Settings, get_settings, use_settings  # noqa: E402
from rules.loader import load_catalog  # noqa: E402

TAGS = ["safeguarding", "child_protection", "children_in_care", "care_leavers", "workforce", "placements"]


def seed(settings: Settings, subscribers: int, rng: random.Random) -> None:
    catalog, rules = suite_2024()
    for i in range(153):
        with session_for(settings.database_url) as s:
            result = ingest_bytes(s, catalog, f"la-{i:03d}.csv", return_csv(f"la-{i:03d}", MONTHS, rules, rng),
                                  InProcess(get_settings()).evaluate, utcnow(),
                                  limits=ReturnLimits.of(get_settings()))
        assert result.landed, result.errors
    codes = [b.code for b in rules]
    with session_for(settings.database_url) as s:
        s.execute(insert(Subscriber.__table__), [dict(id=i + 1, name=f"Subscriber {i + 1}",
                                                      email=f"s{i + 1}@example.org", empty_digest=True,
                                                      created_at=utcnow()) for i in range(subscribers)])
        subs = []
        for i in range(subscribers):
            kind = i % 10
            providers = sorted(rng.sample([f"la-{p:03d}" for p in range(153)], rng.randint(1, 3)))
            subs.append(dict(
                subscriber_id=i + 1, delivery="digest" if kind < 7 else "both",
                providers=[] if kind == 9 and i % 500 == 9 else providers,  # a few national readers
                tags=sorted(rng.sample(TAGS, 2)) if kind in (1, 9) else [],
                indicators=sorted(rng.sample(codes, 5)) if kind == 2 else [],
                teams=[], transitions=[], min_severity="red" if kind == 3 else "amber", created_at=utcnow()))
        s.execute(insert(Subscription.__table__), subs)
        s.commit()


def send_time(week: str, settings: Settings) -> dt.datetime:
    """When beat sends `week`'s digests: its digest weekday and time, local (Monday 07:30)."""
    year, w = parse_week(week)
    day = dt.date.fromisocalendar(year, w, 1) + dt.timedelta(days=settings.digest_weekday)
    at = settings.digest_time
    return dt.datetime.combine(day, at, tzinfo=ZoneInfo(settings.timezone)).astimezone(dt.UTC)


def work(args: tuple[dict, str, list[int], int]) -> tuple[int, int, float, float]:
    """One worker process running digest chunk tasks: plan a chunk, send it over one SMTP
    session (as workers.tasks.digest_chunk_task does), next chunk; all at the week's send
    time (the returns landed this week, so they are next week's digest, sent next Monday)."""
    settings_dict, week, ids, chunk_size = args
    use_settings(Settings(**settings_dict))
    settings = get_settings()
    catalog = load_catalog(settings.rules_dir)
    at = send_time(week, settings)
    planned = sent = 0
    planning = sending = 0.0
    for i in range(0, len(ids), chunk_size):
        chunk = ids[i:i + chunk_size]
        start = time.perf_counter()
        with session_for(settings.database_url) as s:
            plan = plan_digests(s, catalog, week, settings.timezone, at, chunk, settings.base_url,
                                settings.digest_max_rows)
        middle = time.perf_counter()
        with session_for(settings.database_url) as s:
            statuses = deliver_many(s, settings, plan.queued, now=at)
        planning += middle - start
        sending += time.perf_counter() - middle
        planned, sent = planned + len(plan.queued), sent + statuses["sent"]
    return planned, sent, planning, sending


def main() -> None:
    from tests.peers.smtp import SMTPPeer

    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=500, help="subscribers per chunk task (digest_chunk_size)")
    args = parser.parse_args()
    rng = random.Random(10_000)
    with tempfile.TemporaryDirectory() as tmp, SMTPPeer(keep=False) as sink:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'digest.db'}", broker_url="",
                            email_url=sink.apprise_url, email_from="kpi-alerts@example.org",
                            base_url="https://alerts.example.org", secret_key="bench-secret", send_timeout=30)
        use_settings(settings)
        get_engine(settings.database_url)
        seed(settings, args.subscribers, rng)
        week = week_of(dt.datetime.now(dt.UTC) + dt.timedelta(days=7), settings.timezone)
        with session_for(settings.database_url) as s:
            ids = sorted(s.execute(select(Subscriber.id)).scalars())
        chunks = [ids[i::args.processes] for i in range(args.processes)]  # each process: chunks of --chunk
        start = time.perf_counter()
        with mp.get_context("fork").Pool(args.processes) as pool:
            results = pool.map(work, [(settings.model_dump(), week, c, args.chunk) for c in chunks])
        wall = time.perf_counter() - start
        deadline = time.monotonic() + 30
        while sink.count < sum(r[1] for r in results) and time.monotonic() < deadline:
            time.sleep(0.05)
        planned, sent = sum(r[0] for r in results), sum(r[1] for r in results)
        planning, sending = max(r[2] for r in results), max(r[3] for r in results)
        with session_for(settings.database_url) as s:
            size = int(s.execute(select(func.avg(func.length(Delivery.body_html) + func.length(Delivery.body_text)))
                       .where(Delivery.channel == "digest")).scalar_one())
        received = sink.count
        per = args.subscribers // args.processes
        with mp.get_context("fork").Pool(args.processes) as pool:
            start = time.perf_counter()
            pool.starmap(bare_smtp, [(sink.port, per, message(size))] * args.processes)
            floor = time.perf_counter() - start
    print(f"digest_batch: {args.subscribers:,} subscribers, week {week}, {args.processes} worker processes, "
          f"chunks of {args.chunk}")
    print(f"  {planned:,} digests planned (compose + render + ledger + outbox): {planning:.1f} s per process")
    print(f"  {sent:,} sent over one SMTP session per chunk to the local SMTP sink: {sending:.1f} s per "
          f"process; the sink counted {received:,}")
    print(f"  total wall: {wall:.1f} s (target <= 60 s)")
    print(f"  floor, bare smtplib: {args.subscribers:,} prebuilt messages of the average digest's size "
          f"({size:,} B) over one session per process to the same sink: {floor:.1f} s; the run is "
          f"{wall / floor:.1f}x the floor")


if __name__ == "__main__":
    main()
