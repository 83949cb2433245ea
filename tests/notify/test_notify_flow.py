"""Returns -> alerts -> subscriptions -> real SMTP / HTTPS peers, exactly once."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from alerts.notify.deliver import deliver
from alerts.store.db import session_for
from alerts.store.deliveries import due, recover_stale, requeue
from alerts.store.models import Alert, AlertEvent, Delivery, DeliveryAttempt, RatingRecord, utcnow
from alerts.usecases.acks import acknowledge, snooze
from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.conftest import ROOT, kpi_csv
from tests.ingesting import ingest_bytes, land_json
from tests.notify.cards import facts, text
from tests.peers.teams import card

CANARY = "CANARY-S3cr3t"


@pytest.fixture
def env(new_database, smtp_server, teams_server):
    s = Settings(database_url=new_database('n.db'), broker_url="", rules_dir=SHIPPED_PACKS,
                 email_url=smtp_server.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5,
                 delivery_backoff_base=1, delivery_backoff_max=2)
    use_settings(s)
    yield s, smtp_server, teams_server
    use_settings(None)


def add(settings, name, email=None, teams_url=None, **spec) -> int:
    with session_for(settings.database_url) as s:
        return subscribe(s, load_catalog(settings.rules_dir), name, email, teams_url, SubscriptionSpec(**spec))


def deliveries(settings) -> list[Delivery]:
    with session_for(settings.database_url) as s:
        return list(s.execute(select(Delivery).order_by(Delivery.id)).scalars())


def year_2024_10(value_pi1="68.8", value_pi2="66.8") -> bytes:
    return kpi_csv([("2024-10", "PI1", value_pi1), ("2024-10", "PI2", value_pi2)])


def test_one_email_per_return_listing_every_change_worst_first(env):
    settings, smtp, _ = env
    add(settings, "Chief executive", "ceo@example.org")
    rows = [("2024-10", f"PI{i}", v) for i, v in enumerate(
        ["68.8", "66.8", "25", "56", "75", "80", "101", "13", "55", "80", "6", "45", "60", "60", "80"], start=1)]
    out = land_json("k.csv", kpi_csv(rows))
    assert len(out["transitions"]) == 15
    (_, to, msg), = smtp.wait_for(1)
    assert to == ["ceo@example.org"]
    assert msg["Subject"] == "[RED] Sandwell: 14 KPIs in failure, 1 within tolerance in the 2024-10 return"
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = (p.get_content() for p in msg.iter_parts())
    assert html.index("PI1 ") < html.index("PI15 ")  # the red ones by code, then the amber one
    for part in (plain, html):
        assert "Single assessments completed within 45 working days" in part and "68.8%" in part
    assert smtp.by_notification_id() == {deliveries(settings)[0].key: 1}
    assert len(msg.get_all("Message-ID")) == 1


def test_routing_by_severity_tag_team_and_delivery_mode(env):
    settings, smtp, _ = env
    add(settings, "Red only", "red@example.org", min_severity="red")
    add(settings, "Finance", "fin@example.org", tags=["finance"])
    add(settings, "Team", "team@example.org", teams=["ai-1"])
    add(settings, "Digest", "digest@example.org", delivery="digest")
    ingest_bytes("k.csv", kpi_csv([("2024-10", "PI2", "66.8")]))  # amber only
    caseload = (b"provider,period,team,service,worker,asye,caseload\n"
                b"sandwell,2025-03,ai-1,assessment_intervention,SW-1,false,27\n"
                b"sandwell,2025-03,cp-1,court_child_protection,SW-3,false,19\n")
    ingest_bytes("c.csv", caseload)
    smtp.wait_for(2)
    got = {tuple(to): m["Subject"] for _, to, m in smtp.messages}
    # red: teams ai-1 and cp-1 (workers SW-1, 27 > 26.4, and SW-3, 19 > 18, are red too, but per-worker rows
    # need a team or the caseloads tag); the trust average (23) is amber.
    # team ai-1: worker SW-1 and the team itself; the trust average is not a team subject
    assert got == {("red@example.org",): "[RED] Sandwell: caseloads over the ceiling for 2 teams in the 2025-03 return",
                   ("team@example.org",):
                       "[RED] Sandwell: caseloads over the ceiling for 1 worker and 1 team (2025-03)"}
    assert not any(to == ["fin@example.org"] or to == ["digest@example.org"] for _, to, _m in smtp.messages)


def test_hostile_names_are_escaped_in_email_and_card(env):
    settings, smtp, teams = env
    add(settings, "Head of service", "hos@example.org", teams.url)
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    data = ("provider,period,team,service,worker,asye,caseload\n"
            f"sandwell,2025-03,\"{hostile}\",assessment_intervention,SW-1,false,30\n").encode()
    ingest_bytes("c.csv", data)
    (_, _, msg), = smtp.wait_for(1)
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    body = card(teams.wait_for(1)[0])["body"]
    (box,) = [b["items"][0] for b in body if b["type"] == "Container" and "Team " in text(b["items"][0])]
    team = text(box).removeprefix("Average caseload per team: Team ")
    assert team == '<script>alert(1)</script>><img src=x onerror=alert(1)>"'  # as the CSV reads, no backslash
    assert box["type"] == "RichTextBlock"  # a TextRun: Adaptive Cards never read it as markdown, nor as HTML


def test_teams_card_through_workflows(env):
    settings, _, teams = env
    add(settings, "Teams channel", teams_url=teams.url)
    ingest_bytes("k.csv", year_2024_10())
    (req,) = teams.wait_for(1)
    assert req["path"].startswith("/workflows/kpialertsworkflow01/triggers/manual/paths/invoke")
    body = card(req)["body"]
    assert text(body[0]) == "[RED] Sandwell: 1 KPI in failure, 1 within tolerance in the 2024-10 return"
    box = next(b for b in body if b["type"] == "Container" and text(b["items"][0]).startswith("PI1 "))
    assert box["items"][1]["text"] == "RED, in failure" and box["items"][1]["color"] == "attention"
    assert facts(box)["Value"] == "68.8%"


def test_smtp_down_then_back_delivers_exactly_once(env):
    settings, smtp, _ = env
    add(settings, "Lead", "lead@example.org")
    smtp.stop()
    ingest_bytes("k.csv", year_2024_10())
    (d,) = deliveries(settings)
    assert (d.status, d.attempts) == ("pending", 1) and d.last_error
    now = utcnow()
    with session_for(settings.database_url) as s:
        assert deliver(s, settings, d.id, now) == "pending"  # not due yet: nothing happens
        later = now + dt.timedelta(seconds=3)
        assert due(s, later) == [d.id]
        smtp.start()
        assert deliver(s, settings, d.id, later) == "sent"
        assert deliver(s, settings, d.id, later + dt.timedelta(hours=1)) == "sent"  # never twice
        attempts = s.execute(select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == d.id)).scalars()
        assert list(attempts) == ["failed", "sent"]
    smtp.wait_for(1)
    assert smtp.by_notification_id() == {d.key: 1}


def test_teams_429_and_500_are_retried_then_delivered_once(env):
    settings, _, teams = env
    add(settings, "Teams", teams_url=teams.url)
    teams.script = [429, 500]
    ingest_bytes("k.csv", year_2024_10())
    (d,) = deliveries(settings)
    clock = utcnow()
    with session_for(settings.database_url) as s:
        for _ in range(5):
            clock += dt.timedelta(seconds=3)
            deliver(s, settings, d.id, clock)
    assert [r["status"] for r in teams.requests] == [429, 500, 202]
    assert len(teams.delivered()) == 1 and deliveries(settings)[0].status == "sent"


def test_attempts_run_out_then_failed_and_retry_requeues(env):
    settings, smtp, _ = env
    use_settings(settings.model_copy(update={"delivery_max_attempts": 3}))
    add(settings, "Lead", "lead@example.org")
    smtp.script = ["550 mailbox unavailable"] * 3
    ingest_bytes("k.csv", year_2024_10())
    (d,) = deliveries(settings)
    clock = utcnow()
    with session_for(settings.database_url) as s:
        for _ in range(3):
            clock += dt.timedelta(seconds=3)
            deliver(s, get_settings_now(), d.id, clock)
        assert s.get(Delivery, d.id).status == "failed"
        assert requeue(s, d.id, clock) and deliver(s, get_settings_now(), d.id, clock) == "sent"
    assert smtp.by_notification_id() == {d.key: 1}


def get_settings_now():
    from config import get_settings

    return get_settings()


# A worker whose process ends right after the real email channel sent, before the outcome is
# recorded: the channel is the test's, the deliver path is production's.
DIES_AFTER_SENDING = """
import datetime as dt, os, sys
from alerts.notify.channels import CHANNELS
from alerts.notify.channels.email import EmailChannel
from alerts.notify.deliver import deliver
from alerts.store.db import session_for
from config import get_settings

class DiesAfterSending(EmailChannel):
    def send(self, recipient, message, settings):
        super().send(recipient, message, settings)
        os._exit(137)

s = get_settings()
with session_for(s.database_url) as db:
    deliver(db, s, int(sys.argv[1]), dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
            channels={**CHANNELS, "email": DiesAfterSending()})
"""


def test_worker_killed_between_send_and_record_sends_no_duplicate(env, tmp_path):
    """The attempt is recorded before the send; a process that dies after the SMTP 250 but
    before recording leaves the delivery 'sending'. The retried task does not send it again:
    the delivery becomes 'unknown' and is listed for a person to decide."""
    settings, smtp, _ = env
    add(settings, "Lead", "lead@example.org")
    smtp.stop()  # keep the first attempt from succeeding inside ingest
    ingest_bytes("k.csv", year_2024_10())
    smtp.start()
    (d,) = deliveries(settings)
    env_vars = {**os.environ, "KPI_ALERTS_DATABASE_URL": settings.database_url,
                "KPI_ALERTS_EMAIL_URL": settings.email_url}
    crashed = subprocess.run([sys.executable, "-c", DIES_AFTER_SENDING, str(d.id)], cwd=ROOT, env=env_vars, timeout=60)
    assert crashed.returncode == 137
    smtp.wait_for(1)
    assert deliveries(settings)[0].status == "sending"
    later = utcnow() + dt.timedelta(minutes=10)
    with session_for(settings.database_url) as s:
        assert deliver(s, settings, d.id, later) == "sending"  # the task's retry: no second send
        assert recover_stale(s, later, dt.timedelta(seconds=60)) == [d.id]
        assert deliver(s, settings, d.id, later) == "unknown"
    assert smtp.by_notification_id() == {d.key: 1}
    assert "may have gone" in deliveries(settings)[0].last_error


def test_the_same_change_is_never_sent_twice(env):
    settings, smtp, _ = env
    add(settings, "Lead", "lead@example.org")
    add(settings, "Lead", "lead@example.org", tags=["safeguarding"])  # a second, overlapping subscription
    ingest_bytes("k.csv", year_2024_10())
    ingest_bytes("k-again.csv", year_2024_10() + b"\n")  # a restatement with the same values: no transitions
    smtp.wait_for(1)
    assert len(deliveries(settings)) == 1 and len(smtp.messages) == 1


def test_snooze_silences_notifications_not_ratings_and_is_recorded(env):
    settings, smtp, _ = env
    add(settings, "Lead", "lead@example.org")
    ingest_bytes("sep.csv", kpi_csv([("2024-09", "PI1", "80")]))  # amber: opened, sent
    smtp.wait_for(1)
    with session_for(settings.database_url) as s:
        snooze(s, load_catalog(settings.rules_dir), "PI1", utcnow() + dt.timedelta(days=3), utcnow(),
               by="Performance team")
    out = land_json("oct.csv", kpi_csv([("2024-10", "PI1", "68.8")]))
    assert out["evaluations"][0]["rating"] == "red" and out["transitions"][0]["kind"] == "escalated"
    assert len(deliveries(settings)) == 1  # nothing new sent
    with session_for(settings.database_url) as s:
        kinds = list(s.execute(select(AlertEvent.kind).order_by(AlertEvent.id)).scalars())
    assert kinds == ["opened", "snoozed", "escalated"]


def test_ack_is_kept_in_the_alert_history(env):
    settings, _, _ = env
    ingest_bytes("oct.csv", year_2024_10())
    with session_for(settings.database_url) as s:
        alert_id = s.execute(select(Alert.id).where(Alert.rule_id == "single_assessments_45wd")).scalar_one()
        acknowledge(s, alert_id, "Head of service", "Recovery plan agreed at OPB", utcnow())
        ev = s.execute(select(AlertEvent).where(AlertEvent.kind == "acknowledged")).scalar_one()
    assert (ev.by, ev.note, ev.to_state) == ("Head of service", "Recovery plan agreed at OPB", "red")


def test_secrets_never_reach_logs_results_or_the_delivery_log(env, caplog):
    settings, _, teams = env
    secret_url = settings.email_url.replace("mailto://", f"mailto://user:{CANARY}@")
    use_settings(settings.model_copy(update={"email_url": secret_url}))
    add(settings, "Lead", "lead@example.org", teams.url)
    teams.script = [500]
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="apprise"), \
            caplog.at_level(logging.DEBUG, logger="urllib3"):  # turned up from their quiet default
        ingest_bytes("k.csv", year_2024_10())
    text = caplog.text + json.dumps([(d.last_error, d.subject) for d in deliveries(settings)])
    with session_for(settings.database_url) as s:
        text += json.dumps(list(s.execute(select(DeliveryAttempt.detail)).scalars()))
    assert caplog.records, "expected Apprise to log at DEBUG"
    assert CANARY not in text
    assert "CANARYSIG" not in text and "kpialertsworkflow01" not in text


def test_rating_history_unaffected_by_notifications(env):
    settings, smtp, _ = env
    add(settings, "Lead", "lead@example.org")
    smtp.stop()
    ingest_bytes("k.csv", year_2024_10())
    with session_for(settings.database_url) as s:
        assert s.execute(select(func.count()).select_from(RatingRecord)).scalar_one() == 2


def test_a_kpi_the_return_leaves_blank_is_named_in_ingest_json_the_email_and_the_card(env):
    settings, smtp, teams = env
    add(settings, "Chief executive", "ceo@example.org", teams.url)
    rows = [("2024-10", f"PI{i}", "80") for i in range(3, 16)]  # PI2 blank, PI1 red
    out = land_json("k.csv", kpi_csv([("2024-10", "PI1", "68.8"), ("2024-10", "PI2", ""), *rows]))
    assert out["not_reported"] == ["cin_visits_on_time"] and list(out)[-1] == "not_reported"
    (_, _, msg), = smtp.wait_for(1)
    plain, html = (p.get_content() for p in msg.iter_parts())
    assert "Not reported this period (2024-10):</strong> the return left 1 indicator blank" in html
    assert "not rated: PI2 Child in need plan visits on time.</p>" in html
    line = next(x for x in plain.splitlines() if "Not reported" in x)
    assert line == ("Not reported this period (2024-10): the return left 1 indicator blank, so it is not rated: "
                    "PI2 Child in need plan visits on time.")
    body = card(teams.wait_for(1)[0])["body"]
    said = text(next(b for b in body if b.get("id") == "not-reported"))
    # counted whatever the room; named in the room the changes leave (the card holds 1,000 characters)
    assert said.startswith("Not reported this period (2024-10): 1 indicator left blank, not rated: PI2 Child")


def test_not_reported_lists_every_kpi_of_the_suite_in_force_left_out_and_none_for_other_kinds(env):
    rows = [("2024-10", f"PI{i}", "80") for i in range(2, 16) if i != 7]
    out = land_json("k.csv", kpi_csv(rows))
    assert out["not_reported"] == ["cwcf_rate_per_10k", "single_assessments_45wd"]  # PI1 and PI7: no row at all
    assert land_json("k.csv", kpi_csv(rows))["not_reported"] == []  # a duplicate: nothing evaluated
    fin = land_json("f.csv", b"provider,period,measure,value\nsandwell,2024-10,contract_sum,96720000\n")
    assert fin["not_reported"] == []
    old = land_json("o.csv", kpi_csv([("2019-10", f"PI{i}", "80") for i in range(1, 15)]))  # the 2018 suite
    assert old["not_reported"] == sorted(
        b.rule.measure_key for b in load_catalog(SHIPPED_PACKS).rules if b.suite == "2018" and b.code == "PI15")
