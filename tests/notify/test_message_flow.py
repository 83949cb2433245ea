"""Issue 10, sections 1 and 4, end to end: returns landed as the command line lands them, the
messages as the real SMTP peer and the HTTPS Teams stand-in receive them (real Apprise)."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select

from alerts import steps
from alerts.notify.card import MAX_TEXT, text_of
from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import ReturnRecord
from alerts.templating import day
from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.conftest import EXAMPLES, kpi_csv
from tests.ingesting import ingest_path, land_json
from tests.notify.cards import facts, style, text
from tests.peers.teams import SIGNATURE, WORKFLOW, card

BASE = "https://alerts.example.org"


def settings_for(new_database, smtp, base_url: str = "") -> Settings:
    s = Settings(database_url=new_database('m.db'), broker_url="", rules_dir=SHIPPED_PACKS,
                 email_url=smtp.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5, base_url=base_url,
                 secret_key="test-key-0123456789")
    use_settings(s)
    return s


def add(settings: Settings, name: str, email: str | None = None, teams_url: str | None = None, **spec) -> None:  # noqa: ANN003
    with session_for(settings.database_url) as s:
        subscribe(s, load_catalog(settings.rules_dir), name, email, teams_url, SubscriptionSpec(**spec))


def plain_and_html(msg) -> tuple[str, str]:  # noqa: ANN001 - an EmailMessage
    plain, html = msg.iter_parts()
    return plain.get_content().replace("\r\n", "\n"), html.get_content()


def boxes(request: dict) -> list[dict]:
    return [b for b in card(request)["body"] if b["type"] == "Container"]


def test_a_restated_return_is_sent_as_a_correction_naming_the_ratings_it_withdraws(new_database, smtp_server,
                                                                                   teams_server):
    settings = settings_for(new_database, smtp_server)
    try:
        add(settings, "Chief executive", "ceo@example.org", teams_server.url)
        first = land_json("kpi-2024-10.csv", kpi_csv([("2024-10", "PI1", "68.8"), ("2024-10", "PI3", "12")]))
        assert first["return"]["status"] == "accepted"  # PI1 red (sent), PI3 green
        smtp_server.wait_for(1)
        again = land_json("kpi-2024-10-v2.csv", kpi_csv([("2024-10", "PI1", "86"), ("2024-10", "PI3", "25")]))
        assert again["return"]["status"] == "restated"
        with session_for(settings.database_url) as s:
            received = s.execute(select(ReturnRecord.received_at).where(ReturnRecord.id == first["return"]["id"])
                                 ).scalar_one()
    finally:
        use_settings(None)
    _, _, msg = smtp_server.wait_for(2)[1]
    assert msg["Subject"] == "[RED] Sandwell: correction to the 2024-10 return: 2 KPIs changed"
    plain, html = plain_and_html(msg)
    lead = (f"Correction: Sandwell's 2024-10 return was restated, replacing the one received {day(received)}; "
            "2 KPIs changed. The earlier ratings of PI3 (GREEN) and PI1 (RED) are withdrawn.")
    assert plain.splitlines()[0] == lead
    assert html.index(lead.replace("'", "&#39;")) < html.index("<table")
    lines = plain.splitlines()
    assert "Correction: PI1 was reported RED at 68.8%; corrected to 86%, GREEN: the earlier RED is withdrawn" in lines
    assert "Correction: PI3 was reported GREEN at 12%; corrected to 25%, RED: the earlier GREEN is withdrawn" in lines
    request = teams_server.wait_for(2)[1]
    assert text(card(request)["body"][0]) == msg["Subject"]
    assert text(next(b for b in card(request)["body"] if b.get("id") == "lead")) == lead
    assert [facts(b)["Correction"].split(";")[0] for b in boxes(request)] == ["PI3 was reported GREEN at 12%",
                                                                               "PI1 was reported RED at 68.8%"]


def test_restating_an_older_period_withdraws_the_rating_a_message_announced_though_no_alert_moves(new_database,
        smtp_server, teams_server):
    """October's return made PI1 RED (announced); November's made it AMBER. October is then
    restated with PI1 at 86%: the alert stays AMBER (November holds it), yet the RED sent for
    October was wrong. A red subscriber is told it is withdrawn; nobody hears of what was
    never announced (PI3's October GREEN, restated to another GREEN value)."""
    settings = settings_for(new_database, smtp_server)
    try:
        add(settings, "Commissioning lead", "lead@example.org", teams_server.url, min_severity="red")
        land_json("kpi-2024-10.csv", kpi_csv([("2024-10", "PI1", "68.8"), ("2024-10", "PI3", "12")]))
        land_json("kpi-2024-11.csv", kpi_csv([("2024-11", "PI1", "73.5"), ("2024-11", "PI3", "12")]))
        assert [m["Subject"] for _, _, m in smtp_server.wait_for(2)] == [
            "[RED] Sandwell: 1 KPI in failure in the 2024-10 return",
            "[AMBER] Sandwell: 1 KPI now within tolerance in the 2024-11 return"]
        again = land_json("kpi-2024-10-v2.csv", kpi_csv([("2024-10", "PI1", "86"), ("2024-10", "PI3", "13")]))
    finally:
        use_settings(None)
    assert again["return"]["status"] == "restated"
    assert again["transitions"] == [{"rule": "single_assessments_45wd", "subject": "sandwell", "from": "red",
                                     "to": "green", "kind": "corrected", "period": "2024-10"}]
    _, to, msg = smtp_server.wait_for(3)[2]
    assert to == ["lead@example.org"]
    assert msg["Subject"] == "[AMBER] Sandwell: correction to the 2024-10 return: 1 KPI changed"
    plain, _ = plain_and_html(msg)
    assert plain.splitlines()[0].endswith("1 KPI changed. The earlier RED of PI1 is withdrawn.")
    lines = plain.splitlines()
    assert "Rating: GREEN, corrected (was reported in failure)" in lines
    assert ("Correction: PI1 was reported RED at 68.8%; corrected to 86%, GREEN: the earlier RED is withdrawn; "
            "the alert stays AMBER (latest 2024-11)") in lines
    assert "PI3" not in plain
    request = teams_server.wait_for(3)[2]
    assert text(card(request)["body"][0]) == msg["Subject"]
    (box,) = boxes(request)
    assert facts(box)["Correction"] == ("PI1 was reported RED at 68.8%; corrected to 86%, GREEN: the earlier RED "
                                        "is withdrawn; the alert stays AMBER (latest 2024-11)")
    assert len(smtp_server.messages) == 3  # one correction, nothing else


def test_the_example_finance_return_is_in_pounds_in_the_subject_the_email_and_the_card(new_database,
        smtp_server, teams_server, clock):
    settings = settings_for(new_database, smtp_server, BASE)
    try:
        add(settings, "Finance lead", "finance@example.org", teams_server.url, tags=["finance"])
        assert not ingest_path(EXAMPLES / "finance-2026-01.csv").errors
    finally:
        use_settings(None)
    (_, _, msg), = smtp_server.wait_for(1)
    assert msg["Subject"] == "[RED] Sandwell: forecast overspend £10.19m (9.7%) in failure, 1 more (2026-01)"
    plain, html = plain_and_html(msg)
    lines = plain.splitlines()
    assert lines[0] == ("Sandwell: forecast overspend £10.19m (9.7%) in failure, year-to-date overspend £2.64m (2.8%) "
                        "in failure in the 2026-01 return.")
    for line in ("Value: forecast overspend £10.19m, 9.7% of funding (contract sum + other income)",
                 "Funding (contract sum + other income): £105.20m", "Forecast outturn (full-year spend): £115.39m",
                 "Value: year-to-date overspend £2.64m, 2.8% of year-to-date budget",
                 "Year-to-date budget: £94.08m", "Year-to-date actual spend: £96.72m",
                 f"Page: {BASE}/indicators/forecast_overspend_pct?provider=sandwell"):
        assert line in lines, line
    assert "Forecast overspend £10.19m, 9.7% of funding (contract sum + other income)" in html
    (request,) = teams_server.wait_for(1)
    forecast, ytd = boxes(request)
    assert forecast["items"][1] == {"type": "TextBlock", "text": "RED, in failure", "wrap": True, "color": "attention",
                                    "weight": "Bolder"}
    assert facts(forecast)["Value"] == "forecast overspend £10.19m, 9.7% of funding (contract sum + other income)"
    (button,) = [a for i in forecast["items"] if i["type"] == "ActionSet" for a in i["actions"]]
    assert button["url"] == f"{BASE}/indicators/forecast_overspend_pct?provider=sandwell"
    assert SIGNATURE not in html + plain + str(card(request)) and WORKFLOW not in str(card(request))


def test_the_example_caseload_return_counts_workers_and_teams_and_each_worker_row_names_its_team(new_database,
        smtp_server, teams_server, clock):
    settings = settings_for(new_database, smtp_server)
    try:
        add(settings, "Head of service", "hos@example.org", teams_server.url, tags=["caseloads"])
        assert not ingest_path(EXAMPLES / "caseload-2025-03.csv").errors
    finally:
        use_settings(None)
    (_, _, msg), = smtp_server.wait_for(1)
    assert msg["Subject"] == "[RED] Sandwell: caseloads over the ceiling for 11 workers and 2 teams"  # 78 at most
    plain, html = plain_and_html(msg)
    block = next(p.splitlines() for p in plain.split("\n\n") if "Worker SW-0003" in p)
    assert block[:3] == ["Caseload per social worker: Worker SW-0003, team tipton-rowley-ai-1",
                         "Rating: RED, in failure", "Value: 27 (ceiling 22)"]
    assert "<td>Worker SW-0003, team tipton-rowley-ai-1</td>" in html
    (request,) = teams_server.wait_for(1)
    body = card(request)["body"]
    assert sum(text_of(b) for b in body) <= MAX_TEXT
    first = boxes(request)[0]["items"]
    assert text(first[0]) == "Caseload per social worker: Worker SW-0003, team tipton-rowley-ai-1"
    assert (text(first[1]), style(first[1])["color"]) == ("RED, in failure", "attention")
    assert facts(boxes(request)[0])["Value"] == "27 (ceiling 22)"
    assert not any(i["type"] == "ActionSet" for b in boxes(request) for i in b["items"])  # no base URL: no buttons
    more = next(b["text"] for b in body if b.get("id") == "more")
    assert more.startswith("and ") and more.endswith(" more changes: see the email")  # no base URL: no link
    assert len(boxes(request)) + int(more.split()[1]) == plain.count("\nRating: ")  # the email lists them all


def test_a_finance_reminder_says_the_overspend_in_pounds_too(new_database, smtp_server):
    settings = settings_for(new_database, smtp_server)
    try:
        add(settings, "Finance lead", "finance@example.org", tags=["finance"], transitions=["reminder"])
        with time_machine.travel(dt.datetime(2026, 2, 18, 9, 0, tzinfo=dt.UTC), tick=True):  # a Wednesday
            assert not ingest_path(EXAMPLES / "finance-2026-01.csv").errors  # red: no message, reminders only
        with time_machine.travel(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), tick=True):  # a Monday, 12 days on
            assert not steps.reminders(settings, dispatcher_for(settings))  # February's return is due 20 Mar
        with time_machine.travel(dt.datetime(2026, 3, 23, 8, 0, tzinfo=dt.UTC), tick=True):  # the Monday after
            assert steps.reminders(settings, dispatcher_for(settings))
    finally:
        use_settings(None)
    (_, _, msg), = smtp_server.wait_for(1)
    assert msg["Subject"] == "[RED] Sandwell: forecast overspend £10.19m (9.7%) still in failure, 1 more"
    plain, _ = plain_and_html(msg)
    assert plain.splitlines()[0] == ("Sandwell: forecast overspend £10.19m (9.7%) still in failure, year-to-date "
                                     "overspend £2.64m (2.8%) still in failure (latest period 2026-01).")
    assert ("Reminder: still in failure since 2026-01; the 2026-02 return was due 20 Mar and has not landed yet"
            in plain.splitlines())
    assert "Value: forecast overspend £10.19m, 9.7% of funding (contract sum + other income)" in plain.splitlines()
    assert "Funding (contract sum + other income): £105.20m" in plain.splitlines()
