"""Benchmark: one national return that changes 15 KPIs for each of 153 providers, 2,000
subscribers with mixed filters. Measures the pipeline (route + group + filter, composed as
alerts.notify.pipeline does) + render (messages per second; target
>= 1,000/s), then hands the rendered messages to a local SMTP sink (aiosmtpd on 127.0.0.1)
through the real email channel (Apprise), and reports that rate too.

    .venv/bin/python bench/notify_fanout.py [--send N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

from alerts.notify.changes import Change
from alerts.notify.group import group_stage
from alerts.notify.inputs import Inputs
from alerts.notify.pipeline import compose
from alerts.notify.render import render
from alerts.notify.route import Route, route_stage
from rules.loader import SHIPPED_PACKS, load_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.peers (the local SMTP sink)

PROVIDERS = 153
SUBSCRIBERS = 2000


def national_changes(rng: random.Random) -> list[Change]:
    catalog = load_catalog(SHIPPED_PACKS)
    rules = [b for b in catalog.rules if b.suite == "2024" and b.code]
    out, event_id = [], 0
    for p in range(PROVIDERS):
        for b in rules:
            event_id += 1
            to = rng.choice(["amber", "red"])
            out.append(Change(
                event_id=event_id, rule_id=b.id, indicator=b.rule.measure_key, code=b.code, name=b.rule.name,
                unit=b.rule.unit, tags=tuple(b.rule.tags), provider=f"la-{p:03d}", subject=f"la-{p:03d}", team=None,
                kind="opened", from_state="green", to_state=to, period="2025-03", value=rng.uniform(0, 100),
                return_id=p + 1, thresholds=b.rule.versions[0].bands.describe() if b.rule.versions[0].bands else {},
                previous_period="2025-02", previous_value=rng.uniform(0, 100), previous_rating="green",
                outside_green_since="2025-03", months_outside_green=1,
                comparators=tuple((c.name, c.value, c.as_of) for c in b.rule.comparators)))
    return out


def mixed_subscriptions(rng: random.Random, changes: list[Change]) -> list[Route]:
    tags = sorted({t for c in changes for t in c.tags})
    codes = sorted({c.code for c in changes if c.code})
    providers = sorted({c.provider for c in changes})
    routes = []
    for s in range(SUBSCRIBERS):
        kind = s % 4
        routes.append(Route(
            subscription_id=s, subscriber_id=s,
            providers=frozenset(rng.sample(providers, rng.randint(1, 3))),  # an officer watches a few councils
            tags=frozenset(rng.sample(tags, 2)) if kind == 1 else frozenset(),
            indicators=frozenset(rng.sample(codes, 4)) if kind == 2 else frozenset(),
            min_severity="red" if kind == 3 else "amber",
        ))
    return routes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--send", type=int, default=200, help="messages to hand to the SMTP sink (0: skip)")
    args = parser.parse_args()
    rng = random.Random(153)
    changes = national_changes(rng)
    routes = mixed_subscriptions(rng, changes)
    inputs = Inputs(now=dt.datetime.now(dt.UTC), routes=routes, channels={r.subscriber_id: ["email"] for r in routes})

    start = time.perf_counter()
    routed = route_stage(changes, inputs)
    t_route = time.perf_counter()
    grouped = group_stage(routed, inputs)
    t_group = time.perf_counter()
    groups = compose(changes, inputs)  # the whole composition, filter included
    t_compose = time.perf_counter()
    messages = [render(g, f"Subscriber {g.subscriber_id}") for g in groups]
    end = time.perf_counter()
    assert len(groups) == len(grouped)
    total = (t_compose - t_group) + (end - t_compose)
    print(f"notify_fanout: {len(changes):,} changes, {len(routes):,} subscriptions -> {len(messages):,} messages")
    print(f"  route {t_route - start:.2f} s, group {t_group - t_route:.2f} s, whole pipeline "
          f"{t_compose - t_group:.2f} s, render {end - t_compose:.2f} s")
    print(f"  pipeline+render: {len(messages) / total:,.0f} messages/s (target >= 1,000/s)")
    if args.send:
        send_to_sink(messages[: args.send])


def send_to_sink(messages) -> None:
    from alerts.notify.channels.base import Recipient
    from alerts.notify.channels.email import EmailChannel
    from bench.floors import bare_smtp, message
    from config import Settings
    from tests.peers.smtp import SMTPPeer

    with SMTPPeer() as sink:
        settings = Settings(email_url=sink.apprise_url, email_from="kpi-alerts@example.org", send_timeout=10)
        channel = EmailChannel()
        start = time.perf_counter()
        outcomes = [channel.send(Recipient("s", f"s{i}@example.org", None), m, settings).status.value
                    for i, m in enumerate(messages)]
        took = time.perf_counter() - start
        sink.wait_for(len(messages), timeout=30)
        print(f"  handed to the local SMTP sink via Apprise: {len(messages)} messages in {took:.2f} s "
              f"({len(messages) / took:,.0f}/s, one SMTP session each); {outcomes.count('sent')} sent, "
              f"{len(sink.messages)} received")
        size = sum(len(m.html) + len(m.text) for m in messages) // len(messages)
        floor = bare_smtp(sink.port, len(messages), message(size), one_session=False)
        print(f"  floor, bare smtplib to the same sink, one session each: {len(messages) / floor:,.0f}/s "
              f"(Apprise at {floor / took:.0%} of it)")


if __name__ == "__main__":
    main()
