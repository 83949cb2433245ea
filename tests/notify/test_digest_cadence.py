"""Digest cadence per subscriber: weekly (every digest day) or monthly (the first digest day
of each calendar month, covering the weeks since the last monthly digest)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from alerts import steps
from alerts.digest.render import render_digest
from alerts.digest.run import compose_week, plan_digests
from alerts.digest.weeks import (
    digest_day,
    is_monthly_week,
    monthly_days,
    monthly_window,
    next_monthly_week,
    previous_monthly_week,
    window,
)
from alerts.store.db import session_for
from alerts.store.models import Delivery, Digest, Subscriber
from rules.loader import load_catalog
from tests.conftest import NEXT_WEEK, add_subscriber

FIRST_MONDAY_OF_MARCH = "2026-W10"  # Monday 2 March 2026; NEXT_WEEK (2026-W09) is Monday 23 February


@given(st.dates(dt.date(2019, 1, 1), dt.date(2035, 12, 31)), st.integers(0, 6))
def test_exactly_one_monthly_digest_day_in_every_calendar_month(day, weekday):
    year, w, _ = day.isocalendar()
    week = f"{year}-W{w:02d}"
    sent = digest_day(week, weekday)
    assert sent.weekday() == weekday and sent.isocalendar()[:2] == (year, w)
    assert is_monthly_week(week, weekday) == (sent.day <= 7) == ((sent - dt.timedelta(days=7)).month != sent.month)
    month_days = [sent.replace(day=d) for d in range(1, 29)]
    firsts = [d for d in month_days if d.weekday() == weekday and d.day <= 7]
    assert len(firsts) == 1  # one first digest day per calendar month...
    y, fw, _ = firsts[0].isocalendar()
    assert is_monthly_week(f"{y}-W{fw:02d}", weekday)  # ...and it is that month's monthly week
    assert (next_monthly_week(week, weekday) == week) == is_monthly_week(week, weekday)


@given(st.dates(dt.date(2019, 1, 1), dt.date(2035, 12, 31)), st.integers(0, 6))
def test_monthly_digests_cover_the_weeks_between_them_without_gap_or_overlap(day, weekday):
    year, w, _ = day.isocalendar()
    week = next_monthly_week(f"{year}-W{w:02d}", weekday)
    before = previous_monthly_week(week, weekday)
    start, end = monthly_window(week, weekday, "Europe/London")
    assert monthly_window(before, weekday, "Europe/London")[1] == start  # the last one ended where this starts
    assert end == window(week, "Europe/London")[1]  # and it ends where the week's digest does
    first, last = monthly_days(week, weekday)
    assert (last - first).days + 1 in (28, 35) and first.weekday() == 0 and last.weekday() == 6
    assert next_monthly_week(_next(week), weekday) != week and is_monthly_week(before, weekday)


def _next(week: str) -> str:
    year, w = int(week[:4]), int(week[6:])
    y, nw, _ = (dt.date.fromisocalendar(year, w, 1) + dt.timedelta(days=7)).isocalendar()
    return f"{y}-W{nw:02d}"


def test_the_monthly_weeks_of_2026_for_a_monday_digest():
    weeks = sorted({next_monthly_week(f"2026-W{w:02d}", 0) for w in range(1, 53)})
    days = [digest_day(w, 0) for w in weeks]
    assert [d.isoformat() for d in days][:4] == ["2026-01-05", "2026-02-02", "2026-03-02", "2026-04-06"]
    assert not is_monthly_week(NEXT_WEEK, 0) and is_monthly_week(FIRST_MONDAY_OF_MARCH, 0)
    assert monthly_days(FIRST_MONDAY_OF_MARCH, 0) == (dt.date(2026, 2, 2), dt.date(2026, 3, 1))


def set_cadence(settings, sid: int, cadence: str, empty_digest: bool = True) -> None:
    with session_for(settings.database_url) as s:
        who = s.get(Subscriber, sid)
        who.digest_cadence, who.empty_digest = cadence, empty_digest
        s.commit()


def monday(week: str, settings) -> dt.datetime:
    return window(week, settings.timezone)[1] + dt.timedelta(hours=7, minutes=30)


def ledger(settings) -> dict[tuple[int, str], tuple[str, str | None]]:
    with session_for(settings.database_url) as s:
        return {(sid, week): (status, reason)
                for sid, week, status, reason in s.execute(select(Digest.subscriber_id, Digest.week, Digest.status,
                                                                  Digest.reason))}


def weekly_and_monthly(settings) -> tuple[int, int]:  # noqa: ANN001
    """Two digest subscribers to everything: ids of a weekly one and of a monthly one."""
    weekly = add_subscriber(settings, "Weekly", "w@example.org", delivery="digest")
    monthly = add_subscriber(settings, "Monthly", "m@example.org", delivery="digest")
    set_cadence(settings, monthly, "monthly")
    return weekly, monthly


def test_a_monthly_subscriber_is_skipped_until_the_months_first_digest_day_then_hears_about_the_month(demo):
    settings, _ = demo
    weekly, monthly = weekly_and_monthly(settings)
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        plan = plan_digests(s, catalog, NEXT_WEEK, settings.timezone, monday(NEXT_WEEK, settings))
        assert plan.skipped == [monthly] and plan.reasons == {monthly: "not_due"} and len(plan.queued) == 1
        march = plan_digests(s, catalog, FIRST_MONDAY_OF_MARCH, settings.timezone,
                             monday(FIRST_MONDAY_OF_MARCH, settings))
        assert march.skipped == [] and len(march.queued) == 2
        bodies = {(sid, key): (subject, text) for sid, key, subject, text in s.execute(
            select(Delivery.subscriber_id, Delivery.key, Delivery.subject, Delivery.body_text))}
    assert ledger(settings) == {(weekly, NEXT_WEEK): ("queued", None), (monthly, NEXT_WEEK): ("skipped", "not_due"),
                                (weekly, FIRST_MONDAY_OF_MARCH): ("queued", None),
                                (monthly, FIRST_MONDAY_OF_MARCH): ("queued", None)}
    subject, text = bodies[(monthly, f"digest-{FIRST_MONDAY_OF_MARCH}.s{monthly}.email")]
    assert subject.startswith(f"Monthly digest {FIRST_MONDAY_OF_MARCH}: ")
    assert text.startswith(f"kpi-alerts monthly digest, {FIRST_MONDAY_OF_MARCH} (Mon 2 Feb 2026 to Sun 1 Mar 2026, "
                           "since the last monthly digest)")
    landed = "Returns that landed: Sandwell KPI return for 2024-04"
    assert "\nTHIS MONTH\n" in text and landed in text  # landed 18 February
    assert "You receive this monthly digest" in text
    subject, text = bodies[(weekly, f"digest-{FIRST_MONDAY_OF_MARCH}.s{weekly}.email")]
    assert subject.startswith(f"Weekly digest {FIRST_MONDAY_OF_MARCH}: ") and "Returns that landed" not in text
    assert "\nTHIS WEEK\n" in text and "No alerts opened, escalated, de-escalated or resolved." in text
    assert landed in bodies[(weekly, f"digest-{NEXT_WEEK}.s{weekly}.email")][1]


def test_a_monthly_digest_compares_with_last_months_and_an_opted_out_one_skips_a_quiet_month(demo):
    settings, _ = demo
    keen = add_subscriber(settings, "Keen monthly", "k@example.org", delivery="digest")
    quiet = add_subscriber(settings, "Quiet monthly", "q@example.org", delivery="digest")
    set_cadence(settings, keen, "monthly")
    set_cadence(settings, quiet, "monthly", empty_digest=False)
    april = next_monthly_week("2026-W11", settings.digest_weekday)  # Monday 6 April: March was quiet
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        plan_digests(s, catalog, FIRST_MONDAY_OF_MARCH, settings.timezone, monday(FIRST_MONDAY_OF_MARCH, settings))
        plan = plan_digests(s, catalog, april, settings.timezone, monday(april, settings))
        text = s.execute(select(Delivery.body_text).where(Delivery.key == f"digest-{april}.s{keen}.email")
                         ).scalar_one()
    assert april == "2026-W15" and plan.reasons == {quiet: "empty"}
    assert ledger(settings)[(quiet, FIRST_MONDAY_OF_MARCH)] == ("queued", None)  # February had the year landing
    assert "\nNo change since last month's digest.\n" in text and text.count("since last month's digest") == 1
    assert "(Mon 2 Mar 2026 to Sun 5 Apr 2026, since the last monthly digest)" in text
    assert "none of your indicators changed this month" not in text  # reds still open: not 'all steady'


def test_the_chunk_step_uses_the_digest_weekday_and_counts_why_it_skipped(demo):
    """KPI_ALERTS_DIGEST_WEEKDAY decides the monthly week: on Sundays, 2026-W09's digest day is
    Sunday 1 March, the first Sunday of March."""
    settings, _ = demo
    monthly = add_subscriber(settings, "Monthly", "m@example.org", delivery="digest")
    weekly = add_subscriber(settings, "Weekly", "w@example.org", delivery="digest")
    set_cadence(settings, monthly, "monthly")
    result = steps.digest_chunk(settings, NEXT_WEEK, [monthly, weekly])
    assert (result["queued"], result["skipped"], result["skipped_because"]) == (1, 1, {"not_due": 1})
    sunday = settings.model_copy(update={"digest_weekday": 6})
    assert steps.digest_chunk(sunday, "2026-W10", [monthly])["skipped_because"] == {"not_due": 1}  # 8 March
    result = steps.digest_chunk(sunday, "2026-W08", [monthly, weekly])  # Sunday 22 February: not the first
    assert result["skipped_because"] == {"not_due": 1}
    assert steps.digest_chunk(sunday, "2026-W11", [monthly])["skipped_because"] == {"not_due": 1}  # 15 March
    again = steps.digest_chunk(sunday, NEXT_WEEK, [monthly])  # due on Sundays, but the Monday run's row stands
    assert again["already"] == 1 and again["queued"] == 0  # once per subscriber and week, whatever changes


def test_a_sunday_digest_goes_to_monthly_subscribers_in_the_week_of_the_first_sunday(demo):
    settings, smtp = demo
    monthly = add_subscriber(settings, "Monthly", "m@example.org", delivery="digest")
    set_cadence(settings, monthly, "monthly")
    sunday = settings.model_copy(update={"digest_weekday": 6})
    result = steps.digest_chunk(sunday, NEXT_WEEK, [monthly])  # Sunday 1 March 2026
    assert (result["queued"], result["skipped"]) == (1, 0)
    ((_, _, msg),) = smtp.wait_for(1)
    # 78 characters: folded onto its own header line, which Python's parser reads back with the space
    assert msg["Subject"].lstrip().startswith(f"Monthly digest {NEXT_WEEK}: ") and len(msg["Subject"].lstrip()) <= 78


def test_dry_run_marks_the_monthly_subscribers_not_due(demo):
    settings, _ = demo
    weekly, monthly = weekly_and_monthly(settings)
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        out = dict(compose_week(s, catalog, NEXT_WEEK, settings.timezone, monday(NEXT_WEEK, settings)))
        march = dict(compose_week(s, catalog, FIRST_MONDAY_OF_MARCH, settings.timezone,
                                  monday(FIRST_MONDAY_OF_MARCH, settings)))
    assert out[monthly] is None and out[weekly].cadence == "weekly"
    assert march[monthly].monthly and render_digest(march[monthly])[0].startswith("Monthly digest")


# --- the command line and the subscriptions file ---------------------------------------------


def test_subscribe_takes_a_digest_cadence_and_listings_show_it(cli, tmp_path):
    assert cli("subscribe", "Board", "--email", "b@example.org", "--delivery", "digest",
               "--digest-cadence", "monthly").returncode == 0
    assert cli("subscribe", "Board", "--email", "b@example.org", "--tag", "finance", "--delivery", "both"
               ).returncode == 0  # a second subscription keeps the subscriber's cadence
    assert cli("subscribe", "Lead", "--email", "l@example.org").returncode == 0
    rows = json.loads(cli("subscriptions", "--json").stdout)
    assert [(r["subscriber"], r["delivery"], r["digest_cadence"]) for r in rows] == [
        ("Board", "digest", "monthly"), ("Board", "both", "monthly"), ("Lead", "immediate", "weekly")]
    table = cli("subscriptions").stdout
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if "│" in line]
    header = next(line for line in table.splitlines() if "┃" in line)
    assert header.split("┃")[-2].strip() == "digest" and [c[-1] for c in cells] == ["monthly", "monthly", "-"]
    bad = cli("subscribe", "Board", "--email", "b@example.org", "--digest-cadence", "fortnightly")
    assert bad.returncode == 2 and "digest_cadence" in bad.stderr and "'weekly' or 'monthly'" in bad.stderr
    assert cli("subscribe", "Board", "--email", "b@example.org", "--digest-cadence", "weekly").returncode == 0
    assert {r["digest_cadence"] for r in json.loads(cli("subscriptions", "--json").stdout)} == {"weekly"}
    out = tmp_path / "d.html"
    assert cli("subscribe", "Monthly", "--email", "m@example.org", "--delivery", "digest",
               "--digest-cadence", "monthly").returncode == 0
    sid = next(r["subscriber_id"] for r in json.loads(cli("subscriptions", "--json").stdout)
               if r["subscriber"] == "Monthly")
    prev = cli("digest", "preview", "--subscriber", str(sid), "--week", "2099-W01", "--out", str(out))
    assert prev.returncode == 0, prev.stderr
    assert prev.stdout.startswith("Monthly digest 2099-W01:")
    assert "(a monthly subscriber: no digest goes out in 2099-W01; the next is 2099-W02)" in prev.stdout
    dry = cli("digest", "send", "--week", "2099-W01", "--dry-run")
    assert f"{sid}: monthly, not due in 2099-W01 (next: 2099-W02)" in dry.stdout
    assert "dry run: 1 digests for 2099-W01 composed" in dry.stdout  # Board; Lead takes no digest


def test_the_subscriptions_file_sets_the_digest_cadence(cli, tmp_path):
    path = tmp_path / "subs.yaml"
    path.write_text("subscribers:\n  - name: Board\n    email: b@example.org\n    digest_cadence: monthly\n"
                    "    subscriptions:\n      - delivery: digest\n  - name: Lead\n    email: l@example.org\n")
    assert cli("subscriptions", "apply", str(path)).returncode == 0
    rows = json.loads(cli("subscriptions", "--json").stdout)
    assert [(r["subscriber"], r["digest_cadence"]) for r in rows] == [("Board", "monthly"), ("Lead", "weekly")]
    path.write_text(path.read_text().replace("    digest_cadence: monthly\n", ""))
    assert cli("subscriptions", "apply", str(path)).stdout.strip() == "0 added, 0 removed, 2 unchanged"
    rows = json.loads(cli("subscriptions", "--json").stdout)  # a key the file leaves out keeps the stored value
    assert [(r["subscriber"], r["digest_cadence"]) for r in rows] == [("Board", "monthly"), ("Lead", "weekly")]
    path.write_text(path.read_text().replace("    email: b@example.org\n", "    email: b@example.org\n"
                                                                            "    digest_cadence: weekly\n"))
    assert cli("subscriptions", "apply", str(path)).returncode == 0
    assert {r["digest_cadence"] for r in json.loads(cli("subscriptions", "--json").stdout)} == {"weekly"}  # the file's
    path.write_text("subscribers:\n  - name: Board\n    email: b@example.org\n    digest_cadence: daily\n")
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2 and f"{path}: subscribers.0.digest_cadence: Input should be 'weekly' or 'monthly'" \
        in res.stderr
