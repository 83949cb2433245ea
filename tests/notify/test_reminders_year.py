"""Issue 10 "Less noise", measured: the example year lands month by month on a simulated clock
(tests/year.py: each return between the 10th and the 15th of the next month, the finance
position of January 2026 in February 2026), alerts/examples/subscriptions.yaml applied before the
first return, beat's reminders step run every simulated day, every email through the real
SMTP peer. Before reminders followed the returns, the commissioning lead got 47 reminder
emails over this timeline, two in some weeks (bench/reminders_year.py on the older commit)."""

from __future__ import annotations

from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from alerts import steps
from alerts.examples import SUBSCRIPTIONS
from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import AlertEvent, Delivery, ReturnRecord, Subscriber
from alerts.usecases.subscriptions import apply
from rules.calendar import next_return
from rules.loader import load_catalog
from tests.ingesting import ingest_path
from tests.year import timeline

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def year(make_settings, smtp_server, tmp_path):
    """(settings, smtp peer, reminder runs) after the whole simulated timeline."""
    settings = make_settings(email_url=smtp_server.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5)
    file = tmp_path / "subscriptions.yaml"  # subscribed before the first return names sandwell
    file.write_text("allow_unknown: true\n" + SUBSCRIPTIONS.read_text())
    with session_for(settings.database_url) as s:
        apply(s, load_catalog(settings.rules_dir), file)
        s.commit()
    runs = 0
    for at, path in timeline():
        with time_machine.travel(at, tick=True):
            if path is None:
                steps.reminders(settings, dispatcher_for(settings))  # beat's daily run
                runs += 1
            else:
                assert not ingest_path(path).errors, path
    return settings, smtp_server, runs


def test_the_example_year_reminds_with_the_returns_not_every_week(year):
    """The lead gets at most 12 reminder emails, nobody two in one ISO week, and each alert
    reminds at most once between two returns of its kind (one simulation: it takes seconds)."""
    settings, smtp, runs = year
    with session_for(settings.database_url) as s:
        names = dict(s.execute(select(Subscriber.id, Subscriber.name)).all())
        planned = s.execute(select(Delivery.subscriber_id, Delivery.channel, Delivery.key, Delivery.created_at,
                                   Delivery.status)).all()
    emails = [d for d in planned if d.channel == "email"]
    received = smtp.wait_for(len(emails))
    assert len(received) == len(emails) and all(d.status == "sent" for d in emails)
    assert set(smtp.by_notification_id().values()) == {1}  # each planned email arrived once

    reminders = [d for d in emails if d.key.startswith("reminders-")]
    per_subscriber = Counter(names[d.subscriber_id] for d in reminders)
    lead_inbox = [m for _, to, m in received if to == ["commissioning.lead@example.org"]]
    lead_reminders = [m for m in lead_inbox if "still in failure" in m["Subject"]]
    assert len(lead_reminders) == per_subscriber["Commissioning lead"]
    assert 1 <= len(lead_reminders) <= 7  # 47 before issue 10, 12 before issue 17
    assert runs > 600  # every simulated day, from May 2024 to March 2026

    weeks = Counter((d.subscriber_id, d.created_at.astimezone(LONDON).isocalendar()[:2]) for d in reminders)
    assert max(weeks.values()) == 1  # never two reminder emails in one ISO week
    assert {d.created_at.astimezone(LONDON).weekday() for d in reminders} == {0}  # all on Mondays
    for m in lead_reminders:
        html = m.get_body(("html",)).get_content()
        assert "still in failure since " in html  # and when the next return is due, or that it has not landed
        assert "the next return is due " in html or "and has not landed yet" in html or "return is missing" in html
        assert "still red" not in html and "(was red)" not in html

    # and each alert reminded at most once between two rated returns of its rule's kind
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        rated = s.execute(select(ReturnRecord.provider, ReturnRecord.kind, ReturnRecord.evaluated_at)).all()
        events = s.execute(select(AlertEvent.alert_id, AlertEvent.rule_id, AlertEvent.provider, AlertEvent.at)
                           .where(AlertEvent.kind == "reminder").order_by(AlertEvent.at)).all()
        turns = s.execute(select(AlertEvent.alert_id, AlertEvent.kind, AlertEvent.period, AlertEvent.at)
                          .where(AlertEvent.to_state == "red", AlertEvent.kind.in_(("opened", "escalated", "reminder")))
                          .order_by(AlertEvent.at, AlertEvent.id)).all()
    landings = defaultdict(list)
    for provider, kind, at in rated:
        landings[(provider, kind)].append(at)
    by_alert = defaultdict(list)
    for e in events:
        by_alert[e.alert_id].append(e)
    assert by_alert  # the year has red alerts to remind of: KPIs, caseloads and finance
    assert {catalog.rules_by_id[e.rule_id].rule.kind for e in events} == {"kpi", "caseload", "finance"}
    for seq in by_alert.values():
        kind = catalog.rules_by_id[seq[0].rule_id].rule.kind
        for a, b in zip(seq, seq[1:], strict=False):
            assert any(a.at < x < b.at for x in landings[(seq[0].provider, kind)]), (seq[0].rule_id, a.at, b.at)

    # and none before the next return of its kind was due: each reminder came on or after the due
    # day of the return after the period the alert stood on when it turned red or last reminded
    stood: dict[int, str] = {}
    for alert, kind, period, at in turns:
        if kind == "reminder":
            rule = catalog.rules_by_id[next(e.rule_id for e in events if e.alert_id == alert)]
            found = next_return(catalog, "sandwell", rule.rule.kind, stood[alert], at.date())
            assert found is not None and at.astimezone(LONDON).date() >= found[1].due, (rule.id, at, stood[alert])
        stood[alert] = period
