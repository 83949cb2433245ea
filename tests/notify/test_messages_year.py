"""Issue 17, items 2 and 5, over every message of the example year: the year lands month by month
on a simulated clock (tests/year.py `live_year`: each return between the 10th and the 15th of the
month after its period, beat's reminders and returns check every day, each Monday's digests
planned), for the subscribers of alerts/examples/subscriptions.yaml and a Teams channel following
everything at amber or worse. Every planned message is read back from the outbox: what would
be sent, as it would be sent.

Before this change (bench/messages_year.py on the older commit): 28 of 99 weekly and 12 of 22
monthly digests said newer returns were overdue when the expected-returns calendar said none
was; 124 subjects were over 78 characters; 14 of 29 Teams cards carried markdown backslashes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from alerts.digest.weeks import window
from alerts.steps import InProcess
from alerts.store.db import get_engine, session_for
from alerts.store.models import Delivery, Subscriber
from alerts.usecases.subscriptions import apply
from config import Settings, use_settings
from rules.calendar import calendar, local_day
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.notify.cards import strings, text
from tests.year import landings, live_year, subscriptions_file

BASE = "https://alerts.example.org"
LONDON = "Europe/London"


class Planned(InProcess):
    """Evaluates in-process as the embedded default does, and leaves the outbox unsent."""

    def deliver(self, delivery_ids) -> None:  # noqa: ANN001
        pass


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Delivery], dict[int, tuple[str, str]]]:
    """(every planned delivery, subscriber id -> (name, digest cadence)) after the lived year."""
    folder = tmp_path_factory.mktemp("year")
    settings = Settings(database_url=f"sqlite:///{folder / 'year.db'}", broker_url="", rules_dir=SHIPPED_PACKS,
                        timezone=LONDON, base_url=BASE, secret_key="test-key-0123456789")
    use_settings(settings)
    try:
        with session_for(settings.database_url) as s:
            apply(s, load_catalog(SHIPPED_PACKS), subscriptions_file(folder))
            s.commit()
        assert live_year(settings, Planned(settings)) > 600
        with session_for(settings.database_url) as s:
            rows = list(s.execute(select(Delivery).order_by(Delivery.id)).scalars())
            s.expunge_all()
            people = {i: (n, c) for i, n, c in s.execute(select(Subscriber.id, Subscriber.name,
                                                                 Subscriber.digest_cadence))}
    finally:
        get_engine(settings.database_url).dispose()
        use_settings(None)
    return rows, people


def missing_at(cutoff: dt.datetime) -> list[str]:
    """What `kpi-alerts returns calendar --as-of` says is missing on the digest's last day,
    worked out here from the example year's own landing days (not from the store)."""
    catalog = load_catalog(SHIPPED_PACKS)
    landed: dict[tuple[str, str], dict[str, dt.datetime]] = {}
    for at, path in landings():
        if at < cutoff:
            kind, period = path.stem.split("-", 1)
            landed.setdefault(("sandwell", kind), {})[period] = at
    day = local_day(cutoff - dt.timedelta(microseconds=1), LONDON)
    return [f"{r.kind} {r.period}" for r in calendar(catalog, landed, day, LONDON) if r.status == "missing"]


def digests(rows: list[Delivery]) -> list[tuple[str, Delivery]]:
    return [(d.key.split(".")[0].removeprefix("digest-"), d) for d in rows if d.channel == "digest"]


def test_a_digest_says_returns_are_overdue_only_when_the_returns_calendar_does(year):
    rows, people = year
    said = {"weekly": [0, 0, 0], "monthly": [0, 0, 0]}  # digests, claiming overdue, with the calendar agreeing
    for week, d in digests(rows):
        head = d.body_text.split("\nDear ", 1)[0]  # the title line, the headline, the change since the last
        claims = "overdue" in d.subject or "overdue" in head
        missing = missing_at(window(week, LONDON)[1])
        assert claims == bool(missing), (week, d.subject, missing)
        counts = said[people[d.subscriber_id][1]]
        counts[0] += 1
        counts[1] += claims
        counts[2] += claims and bool(missing)
    # the year and the months after the last return: the weekly chief executive, the monthly scrutiny board
    assert said["weekly"][0] >= 95 and said["monthly"][0] >= 21
    assert said["weekly"][1] == said["weekly"][2] >= 40  # once returns stop, it is said, and truly
    assert said["monthly"][1] == said["monthly"][2] >= 10


def test_every_subject_of_the_year_is_78_characters_at_most_in_the_trust_s_words(year):
    rows, _ = year
    kinds = {"digest", "email", "teams"}
    assert {d.channel for d in rows} == kinds and len(rows) > 150
    for d in rows:
        assert len(d.subject) <= 78, d.subject
        assert "breach" not in d.subject.lower() and "still red" not in d.subject, d.subject
        assert "breach" not in (d.body_text + d.body_html).lower(), d.key
        assert "still red" not in d.body_text + d.body_html and "(was red)" not in d.body_text, d.key
    april = next(d for d in rows if d.key.startswith("return-1.") and d.channel == "email"
                 and "8 within tolerance" in d.subject)  # the chief executive's: 'RED 10 KPIs breached' before
    assert april.subject == "[RED] Sandwell: 2 KPIs in failure, 8 within tolerance in the 2024-04 return"
    weekly = [d.subject for _, d in digests(rows) if d.subject.startswith("Weekly")]
    assert all(re.match(r"Weekly digest \d{4}-W\d\d: (\d+|none) in failure", s) for s in weekly)  # position first


def test_no_change_since_the_last_digest_is_said_once(year):
    rows, _ = year
    quiet = 0
    for _, d in digests(rows):
        for part in (d.body_text, d.body_html):
            assert len(re.findall(r"since last (week|month)'s digest", part, re.IGNORECASE)) <= 1, d.key
        quiet += "No change since last" in d.body_text
    assert quiet >= 20


def test_every_teams_card_of_the_year_has_no_backslash_and_counts_the_changes_it_leaves_out(year):
    rows, _ = year
    cards = [(d, json.loads(d.body_text)["attachments"][0]["content"]) for d in rows if d.channel == "teams"]
    assert len(cards) >= 20
    cut = 0
    for d, content in cards:
        assert not [s for s in strings(content) if "\\" in s], d.key  # Teams mobile shows a backslash as it is
        assert text(content["body"][0]) == d.subject  # the title is the subject, 78 characters at most
        shown = sum(1 for b in content["body"] if b["type"] == "Container")
        more = [b for b in content["body"] if b.get("id") == "more"]
        if shown < len(d.events):
            cut += 1
            n = len(d.events) - shown
            assert text(more[0]) == f"and {n} more change{'s' if n != 1 else ''}: [open the status page]({BASE}/status)"
        else:
            assert not more
    assert cut >= 3  # the April return's ten changes, and others, do not fit in 1,000 characters
