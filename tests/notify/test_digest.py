"""Weekly digests over the demo data (FY 2024-25), sent once per subscriber per ISO week."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from alerts.digest.load import WeekCache, load_week
from alerts.digest.render import render_digest
from alerts.digest.run import compose_for, compose_week, plan_digests
from alerts.digest.weeks import week_of, window
from alerts.notify.unsubscribe import LINK_MARK, verify_token
from alerts.store.db import session_for
from alerts.store.models import Alert, Delivery, Digest, Subscriber, utcnow
from alerts.store.secrets import signing_key
from alerts.usecases.acks import acknowledge
from rules.loader import load_catalog
from tests.conftest import NEXT_WEEK, NOW, add_subscriber, kpi_csv
from tests.ingesting import ingest_bytes
from workers.app import app
from workers.tasks import digest_week_task

add = add_subscriber


def compose(settings, sid, **kw):
    with session_for(settings.database_url) as s:
        return compose_for(s, load_catalog(settings.rules_dir), settings.timezone, NEXT_WEEK, sid, utcnow(), **kw)[1]


def test_the_clock_is_frozen_in_the_week_the_year_landed(demo):
    assert week_of(utcnow() + dt.timedelta(days=7), "Europe/London") == NEXT_WEEK
    assert utcnow() - NOW < dt.timedelta(minutes=5)  # ticking from NOW, not the wall clock


def test_headline_and_table_match_the_ratings(demo):
    settings, _ = demo
    sid = add(settings, "Chief executive", "ceo@example.org", delivery="digest")
    d = compose(settings, sid)
    assert [r.code for r in d.kpis] == [f"PI{i}" for i in range(1, 16)]
    assert d.position == "10 KPIs on target, 5 within tolerance, none in failure"
    # the digest of 2026-W09 (late February 2026): by the returns calendar at its cut-off, the KPI and
    # caseload returns for April to December 2025 are missing (due the 15th, five days' grace)
    stale = "18 returns overdue by the returns calendar (latest KPI data 2025-03)"
    assert (d.newest_period, d.stale, d.returns_overdue) == ("2025-03", stale, 18)
    assert d.headline == ("Position at 2025-03: 10 KPIs on target, 5 within tolerance, none in failure; "
                          f"finance: 2 in failure; caseloads: 1 on target. {stale[:1].upper()}{stale[1:]}")
    assert {r.code for r in d.kpis if r.latest.rating == "amber"} == {"PI3", "PI8", "PI9", "PI11", "PI13"}
    pi1 = d.kpis[0]
    assert (pi1.latest.period, pi1.latest.value, pi1.previous.value, pi1.direction) == ("2025-03", 86.4, 83.4,
                                                                                       "better")
    assert len(pi1.trend) == 12 and d.kpis[7].months_outside_green == 12  # PI8 amber all year
    subject, html, _text = render_digest(d)
    # every indicator it shows counted, the position first: finance's two in failure lead
    assert subject == f"Weekly digest {NEXT_WEEK}: 2 in failure, 5 within tolerance, 18 returns overdue"
    assert f">{d.headline}</h1>" in html and f"\n{d.headline}.\n" in _text
    assert html.count("<td class=b width=6 ") == 15 * 12  # one bar per KPI per month
    assert "forecast outturn £115.39m against £105.20m" in html and "overspend £10.19m (9.7%)" in html
    assert "/worker/" not in html  # everything, but no per-worker rows (issue 10): those need a team or the tag
    caseloads = compose(settings, add(settings, "Caseloads", "cl@example.org", tags=["caseloads"], delivery="digest"))
    _, html, _ = render_digest(caseloads)
    assert "sandwell/worker/SW-0003" in html and "SW-0010" not in html  # only workers over their ceiling


def test_tables_follow_the_subscription(demo):
    settings, _ = demo
    sid = add(settings, "Head of service", "hos@example.org", tags=["care_leavers"], delivery="both")
    d = compose(settings, sid)
    assert [r.code for r in d.kpis] == ["PI10"] and not d.finance and not d.caseloads
    assert d.position == "1 KPI on target, none within tolerance, none in failure"
    assert all(e.code == "PI10" for e in d.events)
    fin = compose(settings, add(settings, "Finance", "fin@example.org", tags=["finance"], delivery="digest"))
    assert not fin.kpis and {r.rule_id for r in fin.finance} == {"forecast_overspend_pct", "ytd_overspend_pct"}


def test_dry_run_composes_every_digest_and_records_nothing(demo):
    settings, _ = demo
    a = add(settings, "A", "a@example.org", delivery="digest")
    add(settings, "Immediate only", "i@example.org")
    b = add(settings, "B", "b@example.org", tags=["care_leavers"], delivery="both")
    with session_for(settings.database_url) as s:
        out = compose_week(s, load_catalog(settings.rules_dir), NEXT_WEEK, settings.timezone, utcnow())
        assert [(sid, d.subscriber) for sid, d in out] == [(a, "A"), (b, "B")]
        assert out[0][1].position == "10 KPIs on target, 5 within tolerance, none in failure"
        assert [r.code for r in out[1][1].kpis] == ["PI10"]
        assert s.execute(select(func.count()).select_from(Digest)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0


def test_acknowledgement_shown_beside_its_alert_and_escaped(demo):
    settings, _ = demo
    sid = add(settings, "Chair <script>x</script>", "chair@example.org", delivery="digest")
    with session_for(settings.database_url) as s:
        alert_id = s.execute(select(Alert.id).where(Alert.rule_id == "placement_moves_3plus")).scalar_one()
        acknowledge(s, alert_id, "Director", "Stability plan <b>agreed</b>", utcnow())
    _, html, _text = render_digest(compose(settings, sid))
    assert "Acknowledged by Director: &ldquo;Stability plan &lt;b&gt;agreed&lt;/b&gt;&rdquo;" in html
    assert "<script>x" not in html and "Chair &lt;script&gt;x&lt;/script&gt;" in html


def test_send_is_exactly_once_per_subscriber_and_week(demo):
    settings, smtp = demo
    ids = [add(settings, f"Member {i}", f"m{i}@example.org", delivery="digest") for i in range(5)]
    first = digest_week_task.apply(args=(NEXT_WEEK,)).get()
    assert first == {"week": NEXT_WEEK, "subscribers": 5, "chunks": 3}
    digest_week_task.apply(args=(NEXT_WEEK,)).get()  # beat fires twice
    smtp.wait_for(5)
    assert sorted(smtp.by_notification_id().values()) == [1] * 5
    assert sorted(smtp.by_notification_id()) == sorted(f"digest-{NEXT_WEEK}.s{i}.email" for i in ids)
    msg = smtp.messages[0][2]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    assert "10 KPIs on target, 5 within tolerance, none in failure" in plain and "PI13" in plain
    token = re.search(r"token=([\w.-]+)>", msg["List-Unsubscribe"]).group(1)
    link = msg["List-Unsubscribe"][1:-1]  # the same signed link in both parts of the body
    assert f"Unsubscribe: {link}" in plain
    assert f'<a href="{link}">Unsubscribe</a>' in msg.get_body(("html",)).get_content()
    with session_for(settings.database_url) as s:
        assert verify_token(signing_key(s, settings), token).subscriber_id in ids
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_rerun_after_a_crash_mid_batch_sends_only_the_missing(demo):
    settings, smtp = demo
    ids = [add(settings, f"Member {i}", f"m{i}@example.org", delivery="digest") for i in range(4)]
    with session_for(settings.database_url) as s:  # a worker planned two, then died before sending
        plan = plan_digests(s, load_catalog(settings.rules_dir), NEXT_WEEK, settings.timezone, utcnow(), ids[:2])
    assert len(plan.queued) == 2 and not smtp.messages
    digest_week_task.apply(args=(NEXT_WEEK,)).get()
    smtp.wait_for(4)
    assert sorted(smtp.by_notification_id().values()) == [1, 1, 1, 1]
    with session_for(settings.database_url) as s:
        assert s.execute(select(func.count()).select_from(Digest)).scalar_one() == 4


def test_one_failing_address_does_not_stop_the_others(demo):
    settings, smtp = demo
    for i in range(3):
        add(settings, f"Member {i}", f"m{i}@example.org", delivery="digest")
    smtp.script = ["250 OK", "550 mailbox unavailable"]
    digest_week_task.apply(args=(NEXT_WEEK,)).get()
    smtp.wait_for(2)
    with session_for(settings.database_url) as s:
        statuses = sorted(s.execute(select(Delivery.status)).scalars())
    assert statuses == ["pending", "sent", "sent"]  # the failed one waits for its retry


def test_steady_digest_and_opt_out(demo, tmp_path):
    settings, _ = demo
    later = utcnow() + dt.timedelta(days=30)  # a quiet week, long after the demo's returns landed
    quiet_week = week_of(later, settings.timezone)
    keen = add(settings, "Keen", "keen@example.org", tags=["care_leavers"], delivery="digest")
    quiet = add(settings, "Quiet", "quiet@example.org", tags=["care_leavers"], delivery="digest")
    with session_for(settings.database_url) as s:
        s.get(Subscriber, quiet).empty_digest = False
        s.commit()
        plan = plan_digests(s, load_catalog(settings.rules_dir), quiet_week, settings.timezone, later)
        d = compose_for(s, load_catalog(settings.rules_dir), settings.timezone, quiet_week, keen, later)[1]
    assert plan.skipped == [quiet] and len(plan.queued) == 1
    subject, _, text = render_digest(d)
    assert d.steady and "all steady: none of your indicators changed this week" in text
    # the position first; the KPI returns after March 2025 are overdue; 'all steady' did not fit
    assert subject == f"Weekly digest {quiet_week}: none in failure, 1 on target, 10 returns overdue"


def test_an_opted_out_subscriber_gets_no_digest_in_a_week_without_a_return_even_with_red_alerts(demo):
    settings, _ = demo
    later = utcnow() + dt.timedelta(days=30)  # no return lands that week; the demo year left reds open
    week = week_of(later, settings.timezone)
    quiet = add(settings, "Quiet", "quiet@example.org", delivery="digest")  # everything, reds included
    keen = add(settings, "Keen", "keen@example.org", delivery="digest")
    with session_for(settings.database_url) as s:
        s.get(Subscriber, quiet).empty_digest = False
        s.commit()
        d = compose_for(s, load_catalog(settings.rules_dir), settings.timezone, week, keen, later)[1]
        plan = plan_digests(s, load_catalog(settings.rules_dir), week, settings.timezone, later)
    assert not d.steady and any(r.latest.rating == "red" for r in (*d.kpis, *d.finance, *d.caseloads))
    assert plan.skipped == [quiet] and len(plan.queued) == 1  # the keen one still hears about the reds


def test_notification_emails_carry_unsubscribe_headers_too(demo):
    settings, smtp = demo
    add(settings, "Lead", "lead@example.org")
    ingest_bytes("x.csv", kpi_csv([("2025-04", "PI1", "60")]))
    (_, _, msg), = smtp.wait_for(1)
    assert msg["List-Unsubscribe"].startswith("<https://alerts.example.org/unsubscribe?token=")
    header_url = msg["List-Unsubscribe"][1:-1]
    html = msg.get_body(("html",)).get_content()
    assert f'Unsubscribe: <a href="{header_url}">{header_url}</a>' in html  # the body's link, signed at send
    assert LINK_MARK not in msg.as_string()


@pytest.mark.parametrize(
    ("label", "utc", "due"),
    [
        ("Mon 24 Mar 2025 07:30 GMT", dt.datetime(2025, 3, 24, 7, 30, 5), True),
        ("Mon 31 Mar 2025 06:30 UTC: 07:30 BST, clocks forward", dt.datetime(2025, 3, 31, 6, 30, 5), True),
        ("Mon 31 Mar 2025 05:30 UTC: 06:30 BST, too early", dt.datetime(2025, 3, 31, 5, 30, 5), False),
        ("Mon 27 Oct 2025 07:30 UTC: 07:30 GMT, after the clocks went back", dt.datetime(2025, 10, 27, 7, 30, 5), True),
        ("Mon 27 Oct 2025 06:30 UTC: 06:30 GMT, too early", dt.datetime(2025, 10, 27, 6, 30, 5), False),
        ("Sun 26 Oct 2025 07:30 GMT: not a Monday", dt.datetime(2025, 10, 26, 7, 30, 5), False),
    ],
)
def test_beat_fires_at_0730_london_across_clock_changes(label, utc, due):
    schedule = app.conf.beat_schedule["weekly-digest"]["schedule"]
    schedule.app = app
    last_monday = utc.date() - dt.timedelta(days=utc.weekday() or 7)  # the previous run, a week or less ago
    last = dt.datetime.combine(last_monday, dt.time(7, 30), tzinfo=ZoneInfo("Europe/London"))
    with time_machine.travel(utc.replace(tzinfo=dt.UTC), tick=False):
        assert schedule.is_due(last).is_due is due, label
        if due:
            local = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("Europe/London"))
            assert (local.weekday(), local.hour, local.minute) == (0, 7, 30)


def test_week_window_is_local_midnight_to_midnight():
    start, end = window("2025-W14", "Europe/London")  # Monday 31 March 2025, after the clocks changed
    assert end == dt.datetime(2025, 3, 30, 23, 0, tzinfo=dt.UTC)  # 00:00 BST
    assert start == dt.datetime(2025, 3, 24, 0, 0, tzinfo=dt.UTC)  # 00:00 GMT
    assert week_of(dt.datetime(2025, 3, 30, 23, 30, tzinfo=dt.UTC), "Europe/London") == "2025-W14"
    assert week_of(dt.datetime(2025, 3, 30, 23, 30, tzinfo=dt.UTC), "UTC") == "2025-W13"


def test_chunks_share_the_loaded_week_until_something_new_lands(demo):
    """A worker plans chunk after chunk from one load of the week; an acknowledgement or a
    return that lands between two chunks is in the next one."""
    settings, _ = demo
    catalog = load_catalog(settings.rules_dir)
    _, end = window(NEXT_WEEK, settings.timezone)
    monday = end + dt.timedelta(hours=7, minutes=30)  # beat's send time, after the week it covers
    weeks = WeekCache()
    with session_for(settings.database_url) as s:
        first, renders = weeks.get(s, catalog, NEXT_WEEK, settings.timezone, monday)
        again, renders_again = weeks.get(s, catalog, NEXT_WEEK, settings.timezone, monday + dt.timedelta(minutes=1))
        assert again is first and renders_again is renders
        assert first == load_week(s, catalog, NEXT_WEEK, settings.timezone, monday)
        alert_id = s.execute(select(Alert.id).where(Alert.rule_id == "placement_moves_3plus")).scalar_one()
        acknowledge(s, alert_id, "Director", "Stability plan agreed", utcnow())
        acked, renders_acked = weeks.get(s, catalog, NEXT_WEEK, settings.timezone, monday)
        assert acked is not first and renders_acked is not renders
        assert {r.ack.note for r in acked.rows if r.ack} == {"Stability plan agreed"}
    assert not ingest_bytes("late.csv", kpi_csv([("2025-04", "PI1", "60")])).errors
    with session_for(settings.database_url) as s:
        landed, _ = weeks.get(s, catalog, NEXT_WEEK, settings.timezone, monday)
        assert landed is not acked and landed == load_week(s, catalog, NEXT_WEEK, settings.timezone, monday)
        assert len(landed.returns) == len(acked.returns) + 1
        early = end - dt.timedelta(hours=1)  # sent before its week ends: read up to that moment, every time
        assert weeks.get(s, catalog, NEXT_WEEK, settings.timezone, early)[0] is not \
            weeks.get(s, catalog, NEXT_WEEK, settings.timezone, early)[0]


def test_a_chunk_planned_after_an_acknowledgement_shows_it(demo):
    settings, _ = demo
    first, second = (add(settings, f"Member {i}", f"m{i}@example.org", delivery="digest") for i in range(2))
    catalog = load_catalog(settings.rules_dir)
    monday = window(NEXT_WEEK, settings.timezone)[1] + dt.timedelta(hours=7, minutes=30)
    with session_for(settings.database_url) as s:
        plan_digests(s, catalog, NEXT_WEEK, settings.timezone, monday, [first])
        alert_id = s.execute(select(Alert.id).where(Alert.rule_id == "placement_moves_3plus")).scalar_one()
        acknowledge(s, alert_id, "Director", "Stability plan agreed", utcnow())
        plan_digests(s, catalog, NEXT_WEEK, settings.timezone, monday, [second])
        bodies = dict(s.execute(select(Delivery.subscriber_id, Delivery.body_html)).all())
    assert "Stability plan agreed" not in bodies[first] and "Stability plan agreed" in bodies[second]


def test_digest_lines_fit_smtp_so_the_email_goes_8bit(demo):
    """RFC 5321/5322: no line over 998 octets. The templates keep every line well under, so a
    digest travels as written (8-bit) rather than quoted-printable."""
    settings, smtp = demo
    sid = add(settings, "Everyone", "all@example.org", delivery="digest")  # every KPI, finance and caseloads
    with session_for(settings.database_url) as s:
        acknowledge(s, s.execute(select(Alert.id).where(Alert.rule_id == "placement_moves_3plus")).scalar_one(),
                    "Director", "Stability plan agreed", utcnow())
    d = compose(settings, sid)
    _, html, text = render_digest(d, "https://alerts.example.org", LINK_MARK)
    assert d.events and d.returns and d.finance and d.caseloads and any(r.ack for r in d.kpis)
    assert max(len(line.encode()) for line in (html + text).splitlines()) <= 998
    digest_week_task.apply(args=(NEXT_WEEK,)).get()
    ((_, _, msg),) = smtp.wait_for(1)
    assert [p["Content-Transfer-Encoding"] for p in msg.iter_parts()] == ["8bit", "8bit"]
    assert smtp.mail_options == [["BODY=8BITMIME"]]


def test_the_weeks_statements_are_built_once_per_process(demo, monkeypatch):
    """Chunk after chunk runs the same statements: none is built per call."""
    import alerts.store.digests as store

    def no_new_statement(*_a, **_k):
        raise AssertionError("a statement was built per call")

    for name in ("select", "insert", "func", "bindparam"):
        monkeypatch.setattr(store, name, no_new_statement)
    settings, _ = demo
    ids = [add(settings, f"Member {i}", f"m{i}@example.org", delivery="digest") for i in range(2)]
    monday = window(NEXT_WEEK, settings.timezone)[1] + dt.timedelta(hours=7, minutes=30)
    with session_for(settings.database_url) as s:
        catalog = load_catalog(settings.rules_dir)
        plan = plan_digests(s, catalog, NEXT_WEEK, settings.timezone, monday, ids)
        assert len(plan.queued) == 2
        assert load_week(s, catalog, NEXT_WEEK, settings.timezone, monday).finance
        assert compose_for(s, catalog, settings.timezone, NEXT_WEEK, ids[0], monday)[1].kpis


def test_no_sql_in_the_digest_package():
    """Every digest statement lives in alerts/store/digests.py (the transaction boundary)."""
    from pathlib import Path

    import alerts.digest

    for path in Path(alerts.digest.__file__).parent.glob("*.py"):
        src = path.read_text()
        assert not re.search(r"from sqlalchemy import|from sqlmodel import .*select|session\.(execute|get)\(", src), \
            path.name


def test_the_digest_says_which_kpis_the_newest_return_left_blank_and_that_it_is_a_month_late(demo):
    settings, _ = demo
    sid = add(settings, "Chief executive", "ceo@example.org", delivery="digest")
    rows = [("2025-04", f"PI{i}", "" if i == 5 else "80") for i in range(1, 16) if i != 12]  # PI12: no row
    assert ingest_bytes("k.csv", kpi_csv(rows), confirm_by="the test").outcome.not_reported == (  # all at 80: queried
        "cwd_assessment_updated_12m", "sw_vacancy_rate")
    d = compose(settings, sid)
    assert [r.code for r in d.not_reported] == ["PI5", "PI12"]
    # by the calendar: the KPI returns for May to December 2025 and nine caseload returns are missing
    assert d.stale == "17 returns overdue by the returns calendar (latest KPI data 2025-04)"
    _, html, text = render_digest(d)
    line = next(x for x in text.splitlines() if x.startswith("Not reported this period: "))
    assert line.startswith("Not reported this period: PI5 ")
    assert "(not in the 2025-04 return; last reported 2025-03)" in line
    assert "Not reported this period:</strong> PI5 " in html


def test_a_digest_before_any_return_says_there_is_no_data_not_none_in_failure(demo):
    """The week before the demo's returns landed: nothing to rate yet. The digest says so; it
    does not headline 'No KPIs on target, none within tolerance, none in failure' as a position."""
    settings, _ = demo
    sid = add(settings, "New", "new@example.org", delivery="digest")
    before = NOW - dt.timedelta(days=14)
    week = week_of(before, settings.timezone)
    with session_for(settings.database_url) as s:
        d = compose_for(s, load_catalog(settings.rules_dir), settings.timezone, week, sid, before)[1]
    assert d.no_data and not d.steady and not d.kpis
    last = d.days[-1]
    assert d.headline == f"No data yet: no return for your indicators had landed by {last:%a} {last.day} {last:%b %Y}"
    subject, html, text = render_digest(d)
    assert subject == f"Weekly digest {week}: no data yet, no return landed by {last:%a} {last.day} {last:%b %Y}"
    assert "none in failure" not in subject + html + text and "all steady" not in subject + text
