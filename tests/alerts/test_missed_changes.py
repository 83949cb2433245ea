"""Issue 10 section 2 over the example year: no change a subscriber cares about is missed."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select

from alerts.cli.demo import example_files
from alerts.examples import SUBSCRIPTIONS
from alerts.store.db import session_for
from alerts.store.models import AlertEvent, NotificationLog, Subscriber
from alerts.usecases.subscriptions import apply
from rules.loader import load_catalog
from tests.conftest import EXAMPLES
from tests.ingesting import ingest_path

AFTER_THE_YEAR = dt.datetime(2026, 2, 18, 9, 0, tzinfo=dt.UTC)


def test_the_commissioning_lead_at_red_hears_every_red_alert_coming_back_to_amber(make_settings, smtp_server,
                                                                                    tmp_path):
    settings = make_settings(email_url=smtp_server.apprise_url, email_from="kpi-alerts@example.org")
    # subscribed before the first return lands, as on a new install: sandwell is not known yet
    file = tmp_path / "subscriptions.yaml"
    file.write_text("allow_unknown: true\n" + SUBSCRIPTIONS.read_text())
    with session_for(settings.database_url) as s:
        apply(s, load_catalog(settings.rules_dir), file)
        s.commit()
    with time_machine.travel(AFTER_THE_YEAR, tick=True):  # every example period has begun (finance 2026-01)
        for file in example_files(EXAMPLES):
            assert not ingest_path(file).errors, file
    with session_for(settings.database_url) as s:
        lead = s.execute(select(Subscriber.id).where(Subscriber.name == "Commissioning lead")).scalar_one()
        left_red = dict(s.execute(select(AlertEvent.id, AlertEvent.to_state).where(
            AlertEvent.kind.in_(("deescalated", "resolved")), AlertEvent.from_state == "red")).all())
        heard = set(s.execute(select(NotificationLog.event_id).where(
            NotificationLog.subscriber_id == lead, NotificationLog.channel == "email")).scalars())
    red_to_amber = {e for e, to in left_red.items() if to == "amber"}
    assert (len(left_red), len(red_to_amber)) == (6, 5)  # 6 red alerts left red in the year, 5 via amber
    assert set(left_red) - heard == set()  # before the fix the 5 red -> amber were all missed
    # and the email says so: each red -> amber is a row "now within tolerance (was in failure)", AMBER
    to_lead = [m for _, to, m in smtp_server.wait_for(1) if to == ["commissioning.lead@example.org"]]
    html = "".join(m.get_body(("html",)).get_content() for m in to_lead)
    assert html.count("now within tolerance (was in failure)") >= len(red_to_amber)
    assert html.count('">AMBER</span><br><span style="color:#666;">within tolerance</span>') >= len(red_to_amber)
    assert sum("now within tolerance" in m["Subject"] for m in to_lead) >= 1
