"""Reminders follow the returns (issue 10, "Less noise"), end to end: returns land on a
simulated clock, beat's reminders step runs every simulated day, and what arrives at the real
SMTP peer is what a subscriber gets."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from alerts import steps
from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import Alert, AlertEvent, Delivery, Subscriber
from alerts.usecases.acks import acknowledge
from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.conftest import kpi_csv
from tests.ingesting import ingest_bytes

OCT_LANDS = dt.datetime(2024, 11, 13, 9, 0, tzinfo=dt.UTC)  # a Wednesday
NOV_LANDS = dt.datetime(2024, 12, 11, 9, 0, tzinfo=dt.UTC)  # a Wednesday
DAY = dt.timedelta(days=1)


@pytest.fixture
def env(new_database, smtp_server):
    s = Settings(database_url=new_database('r.db'), broker_url="", rules_dir=SHIPPED_PACKS,
                 email_url=smtp_server.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5)
    use_settings(s)
    yield s, smtp_server
    use_settings(None)


def add(settings, name, email, **spec) -> int:
    with session_for(settings.database_url) as s:
        return subscribe(s, load_catalog(settings.rules_dir), name, email, None, SubscriptionSpec(**spec))


def land(at: dt.datetime, name: str, rows: list[tuple[str, str, str]]) -> None:
    with time_machine.travel(at, tick=True):
        assert not ingest_bytes(name, kpi_csv(rows)).errors


def days(settings, first: dt.datetime, last: dt.datetime, hour: int = 8) -> dict[dt.date, int]:
    """The reminders step every day from `first` to `last` at `hour`:00 UTC (London in winter),
    as beat runs it: the days it planned anything, and how many messages."""
    out, day = {}, first.date()
    while day <= last.date():
        at = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
        with time_machine.travel(at, tick=True):
            if n := steps.reminders(settings, dispatcher_for(settings)):
                out[day] = n
        day += DAY
    return out


def alert_id(settings, rule_id: str) -> int:
    with session_for(settings.database_url) as s:
        return s.execute(select(Alert.id).where(Alert.rule_id == rule_id)).scalar_one()


def test_a_red_alert_reminds_only_once_the_next_return_is_due_and_says_when_the_one_after_is(env):
    settings, smtp = env
    add(settings, "Lead", "lead@example.org", transitions=["reminder"])  # reminders only
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "68.8"), ("2024-10", "PI2", "66.8")])  # PI1 red, PI2 amber
    # the November return is due 15 Dec: no reminder before it is, however long PI1 stays red
    # (before issue 17, Mon 25 Nov reminded with nothing new to say: 'still red, no newer return yet')
    assert days(settings, OCT_LANDS + DAY, NOV_LANDS - DAY) == {}
    land(NOV_LANDS, "nov.csv", [("2024-11", "PI1", "66.0"), ("2024-11", "PI2", "66.8")])  # still red
    # Mon 16 Dec, the first Monday it is due: one reminder; then none until a newer return lands
    assert days(settings, NOV_LANDS, NOV_LANDS + 35 * DAY) == {dt.date(2024, 12, 16): 1}
    (_, _, msg), = smtp.wait_for(1)
    assert msg["Subject"] == "[RED] Sandwell: 1 KPI still in failure (latest period 2024-11)"
    html, text = (msg.get_body((kind,)).get_content() for kind in ("html", "plain"))
    assert "still in failure since 2024-10, latest 2024-11; the next return is due 15 Jan" in html
    assert "A reminder: 1 of the alerts you subscribe to is still in failure" in html
    assert "Rating: RED, still in failure\n" in text.replace("\r\n", "\n")
    assert "still red" not in html + text and "(was red)" not in html + text
    with session_for(settings.database_url) as s:
        keys = list(s.execute(select(Delivery.key).order_by(Delivery.id)).scalars())
    assert [k.split(".")[0] for k in keys] == ["reminders-2024-W51"]


def test_a_reminder_when_the_next_return_is_due_and_has_not_landed_says_so(env):
    settings, smtp = env
    add(settings, "Lead", "lead@example.org", transitions=["reminder"])
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "68.8")])
    assert days(settings, OCT_LANDS + DAY, dt.datetime(2025, 1, 12, tzinfo=dt.UTC)) == {dt.date(2024, 12, 16): 1}
    (_, _, msg), = smtp.wait_for(1)
    assert ("still in failure since 2024-10; the 2024-11 return was due 15 Dec and has not landed yet"
            in msg.get_body(("html",)).get_content())  # once: a reminder needs a newer return after that


def test_an_acknowledgement_stops_reminders_until_a_newer_return_lands(env):
    settings, smtp = env
    add(settings, "Lead", "lead@example.org", transitions=["reminder"])
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "68.8")])
    with time_machine.travel(OCT_LANDS + DAY, tick=True), session_for(settings.database_url) as s:
        acknowledge(s, alert_id(settings, "single_assessments_45wd"), "Head of service",
                    "Recovery plan agreed at OPB", OCT_LANDS + DAY)
    assert days(settings, OCT_LANDS + DAY, NOV_LANDS - DAY) == {}  # acknowledged: four Mondays of silence
    land(NOV_LANDS, "nov.csv", [("2024-11", "PI1", "66.0")])  # a newer return, still red: one reminder
    assert days(settings, NOV_LANDS, NOV_LANDS + 35 * DAY) == {dt.date(2024, 12, 16): 1}
    (_, to, msg), = smtp.wait_for(1)
    assert to == ["lead@example.org"]
    html = msg.get_body(("html",)).get_content()
    assert ("still in failure since 2024-10, latest 2024-11; the next return is due 15 Jan; acknowledged by Head of "
            "service on 2024-11-14: Recovery plan agreed at OPB") in html


def test_several_red_alerts_are_one_reminder_and_a_second_run_that_week_sends_the_subscriber_none(env):
    settings, smtp = env
    lead = add(settings, "Lead", "lead@example.org", transitions=["reminder"])
    fan = add(settings, "PI3 lead", "pi3@example.org", indicators=["PI3"], transitions=["reminder"])
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "68.8"), ("2024-10", "PI3", "25"), ("2024-10", "PI14", "30")])
    with session_for(settings.database_url) as s:
        acknowledge(s, alert_id(settings, "repeat_cp_plans_2yr"), "Jo", None, OCT_LANDS + DAY)
    monday = dt.datetime(2024, 12, 16, 8, 0, tzinfo=dt.UTC)  # the November return was due on Sunday
    assert days(settings, monday, monday) == {monday.date(): 1}  # PI1 and PI14 in one email; PI3 acknowledged
    # the late return lands at 10:00 and someone runs the step by hand at noon: PI3 is due again,
    # but the lead already has this week's reminder; the PI3 lead, who had none, gets one
    land(monday + dt.timedelta(hours=2), "nov.csv", [("2024-11", "PI1", "68"), ("2024-11", "PI3", "25"),
                                                     ("2024-11", "PI14", "30")])
    assert days(settings, monday, monday, hour=12) == {monday.date(): 1}
    by_to = {tuple(to): m for _, to, m in smtp.wait_for(2)}
    assert by_to[("lead@example.org",)]["Subject"] == "[RED] Sandwell: 2 KPIs still in failure (latest period 2024-10)"
    assert by_to[("pi3@example.org",)]["Subject"] == "[RED] Sandwell: 1 KPI still in failure (latest period 2024-11)"
    with session_for(settings.database_url) as s:
        planned = s.execute(select(Delivery.subscriber_id, Delivery.key)).all()
        pi3_reminders = s.execute(select(AlertEvent.id).where(AlertEvent.kind == "reminder",
                                                              AlertEvent.rule_id == "repeat_cp_plans_2yr")).all()
        names = dict(s.execute(select(Subscriber.id, Subscriber.name)).all())
    assert sorted((names[sid], key.split(".")[0]) for sid, key in planned) == [
        ("Lead", "reminders-2024-W51"), ("PI3 lead", "reminders-2024-W51")]
    assert len(pi3_reminders) == 1 and {lead, fan} == set(names)
