"""The reminder decision (alerts/lifecycle.py: reminder_due, reminder_week), pure: reminders
follow the returns, at most one between two returns of the alert's kind, none after an
acknowledgement until a newer return, one batch a week on the reminder weekday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.lifecycle import reminder_due, reminder_week

LONDON = "Europe/London"
MONDAY = dt.datetime(2024, 11, 25, 8, 0, tzinfo=dt.UTC)  # 08:00 in London (GMT)
RED = MONDAY - dt.timedelta(days=12)  # turned red on Wednesday 13 November 2024
DAY = dt.timedelta(days=1)


def due(now=MONDAY, red_since=RED, last=None, landed=RED, ack=None, days=7, state="red", next_due=None) -> bool:
    return reminder_due(state, red_since, last, now, days, landed=landed, acknowledged=ack, timezone=LONDON,
                        next_due=next_due)


def test_none_before_the_next_return_of_its_kind_is_due():
    dec_15 = dt.date(2024, 12, 15)  # the November return's due day (a Sunday)
    assert not due(next_due=dec_15)  # Mon 25 Nov: red for 12 days, but nothing new to say until 15 Dec
    assert not due(now=dt.datetime(2024, 12, 14, 23, 30, tzinfo=dt.UTC), next_due=dec_15)  # 23:30 GMT: the 14th
    assert due(now=dt.datetime(2024, 12, 15, 0, 0, tzinfo=dt.UTC), next_due=dec_15)  # its due day: it is due
    assert due(now=dt.datetime(2024, 12, 16, 8, 0, tzinfo=dt.UTC), next_due=dec_15)  # the Monday after
    assert due(next_due=dt.date(2024, 11, 15))  # already due (a late return): as before


def test_the_first_reminder_comes_reminder_days_after_the_alert_turned_red():
    assert due()
    assert not due(now=RED + 6 * DAY)
    assert due(now=RED + 7 * DAY)
    assert not due(state="amber") and not due(state="green")
    assert not due(red_since=None)


def test_after_a_reminder_the_next_needs_a_newer_return_of_the_kind():
    last = MONDAY - 7 * DAY
    assert not due(last=last, landed=RED)  # no return since the last reminder: weeks of silence
    assert not due(now=MONDAY + 35 * DAY, last=last, landed=RED)
    assert due(last=last, landed=last + 3 * DAY)  # a newer return, still red: one more
    assert not due(last=last, landed=last)  # landing at the same instant is not newer


def test_reminder_days_is_a_minimum_gap_counted_in_local_calendar_days():
    last = MONDAY - 7 * DAY + dt.timedelta(seconds=5)  # last Monday's run took five seconds longer
    assert due(last=last, landed=last + DAY)
    assert not due(last=MONDAY - 6 * DAY, landed=MONDAY - DAY)
    long_red = MONDAY - 30 * DAY
    assert not due(red_since=long_red, last=MONDAY - 13 * DAY, landed=MONDAY - DAY, days=14)
    assert due(red_since=long_red, last=MONDAY - 14 * DAY, landed=MONDAY - DAY, days=14)
    assert not due(red_since=MONDAY - 13 * DAY, days=14)


def test_never_twice_in_one_iso_week_even_with_a_short_gap():
    sunday, monday = dt.datetime(2024, 11, 24, 9, tzinfo=dt.UTC), MONDAY
    assert not due(now=sunday + dt.timedelta(hours=5), last=sunday, landed=sunday + DAY / 8, days=1)
    assert due(now=monday, last=sunday, landed=sunday + DAY / 8, days=1)  # a new week (and a newer return)
    thursday = MONDAY + 3 * DAY
    assert not due(now=thursday, last=MONDAY, landed=MONDAY + DAY, days=1)


def test_an_acknowledgement_stops_reminders_until_a_return_lands_after_it():
    ack = RED + 2 * DAY
    assert not due(ack=ack, landed=RED)
    assert not due(ack=ack, landed=ack)
    assert due(ack=ack, landed=ack + 5 * DAY)
    # a reminder, then an acknowledgement, then a return: one reminder again
    last = MONDAY - 7 * DAY
    assert not due(last=last, ack=last + DAY, landed=last + DAY / 2)  # the return came before the ack
    assert due(last=last, ack=last + DAY, landed=last + 2 * DAY)
    assert not due(ack=ack, landed=None)


def test_the_local_day_decides_across_the_clock_change():
    # 27 Oct 2024: BST ends. Red at 23:30 UTC on Sunday 20 Oct is Monday 21 Oct 00:30 in London.
    red = dt.datetime(2024, 10, 20, 23, 30, tzinfo=dt.UTC)
    monday = dt.datetime(2024, 10, 28, 8, 0, tzinfo=dt.UTC)
    assert due(now=monday, red_since=red, landed=red)  # 7 local days, 8 in UTC dates
    assert not due(now=monday - DAY, red_since=red, landed=red)


@pytest.mark.parametrize(("moment", "week"), [
    (dt.datetime(2025, 4, 7, 7, 0, tzinfo=dt.UTC), "2025-W15"),  # Monday 08:00 BST
    (dt.datetime(2025, 4, 6, 23, 30, tzinfo=dt.UTC), "2025-W15"),  # Monday 00:30 BST, Sunday in UTC
    (dt.datetime(2025, 4, 7, 23, 30, tzinfo=dt.UTC), None),  # Tuesday 00:30 BST
    (dt.datetime(2024, 12, 30, 8, 0, tzinfo=dt.UTC), "2025-W01"),  # the ISO year, not the calendar's
])
def test_reminder_week_is_the_iso_week_on_the_local_weekday(moment, week):
    assert reminder_week(moment, 0, LONDON) == week


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1)), st.integers(0, 6))
def test_one_reminder_day_in_every_seven_local_days(start, weekday):
    zone = ZoneInfo(LONDON)
    local = start.replace(tzinfo=zone)
    days = [dt.datetime.combine(local.date() + dt.timedelta(days=i), dt.time(12), tzinfo=zone) for i in range(7)]
    weeks = [reminder_week(d.astimezone(dt.UTC), weekday, LONDON) for d in days]
    hits = [(d, w) for d, w in zip(days, weeks, strict=True) if w is not None]
    assert len(hits) == 1
    (d, w), = hits
    assert d.weekday() == weekday and w == "{}-W{:02d}".format(*d.isocalendar()[:2])


# --- the rule over a simulated alert life: beat every day, returns and acks at random ----------

timeline = st.tuples(
    st.lists(st.integers(1, 200), max_size=12, unique=True),  # days a return of the kind lands
    st.lists(st.integers(1, 200), max_size=4, unique=True),  # days someone acknowledges
    st.integers(1, 21),  # the pack's reminder_days
    st.integers(0, 6),  # the reminder weekday
)


def simulate(landing_days, ack_days, days, weekday):
    """Red from day 0 (a return landed then) for 200 days; the step every day at 08:00 local,
    returns at 10:00, acks at 15:00. The reminder instants."""
    zone = ZoneInfo(LONDON)
    start = dt.datetime(2024, 5, 1, tzinfo=zone)

    def at(day, hour):
        return (start + dt.timedelta(days=day, hours=hour)).astimezone(dt.UTC)

    landings = sorted([at(0, 10)] + [at(d, 10) for d in landing_days])
    acks = sorted(at(d, 15) for d in ack_days)
    red_since, reminders = at(0, 10), []
    for day in range(1, 201):
        now = at(day, 8)
        if reminder_week(now, weekday, LONDON) is None:
            continue
        landed = max((x for x in landings if x <= now), default=None)
        acked = max((x for x in acks if x <= now), default=None)
        if reminder_due("red", red_since, reminders[-1] if reminders else None, now, days, landed=landed,
                        acknowledged=acked, timezone=LONDON):
            reminders.append(now)
    return landings, acks, reminders


@settings(max_examples=300)
@given(timeline)
def test_at_most_one_reminder_between_two_returns_and_none_after_an_ack(case):
    landing_days, ack_days, days, weekday = case
    landings, acks, reminders = simulate(landing_days, ack_days, days, weekday)
    weeks = [r.astimezone(ZoneInfo(LONDON)).isocalendar()[:2] for r in reminders]
    assert len(weeks) == len(set(weeks))  # never twice in one ISO week
    for a, b in zip(reminders, reminders[1:], strict=False):
        assert any(a < x < b for x in landings)  # a newer return between any two reminders
        assert (b - a) >= dt.timedelta(days=days) - dt.timedelta(hours=1)  # the gap (a clock change: 1 h)
    for r in reminders:
        acked = [x for x in acks if x < r]
        if acked:  # after an acknowledgement, only once a return landed after it
            assert any(acked[-1] < x < r for x in landings)
        assert r - landings[0] >= dt.timedelta(days=days) - dt.timedelta(hours=3)  # 08:00 vs 10:00, and DST


@settings(max_examples=200)
@given(timeline)
def test_a_return_that_leaves_the_alert_red_is_followed_by_a_reminder(case):
    """Liveness: a return with no acknowledgement after it and three clear weeks plus the gap
    before the next one is reminded of."""
    landing_days, ack_days, days, weekday = case
    landings, acks, reminders = simulate(landing_days, ack_days, days, weekday)
    for i, landed in enumerate(landings[1:], start=1):
        nxt = landings[i + 1] if i + 1 < len(landings) else landings[0] + dt.timedelta(days=200)
        if nxt - landed < dt.timedelta(days=days + 8) or any(landed < a < nxt for a in acks):
            continue
        assert any(landed < r <= nxt for r in reminders), (landed, nxt, reminders)
