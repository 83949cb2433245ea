"""Defect 2 (issue 9): "months outside green" has one answer, in alerts.lifecycle, used by the
alert streak (for_periods), the notification (Change) and the digest (Row)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from alerts.digest.compose import Point, Row
from alerts.lifecycle import nongreen_streak, outside_green
from alerts.notify.changes import build_change
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.periods import period_from_index, period_index

CATALOG = load_catalog(SHIPPED_PACKS)


def change_months(series: list[tuple[str, str, float]]) -> tuple[str | None, int]:
    """What the notification says, for an event at the latest period."""
    period, rating, value = series[-1]
    event = dict(id=1, rule_id="single_assessments_45wd", provider="sandwell", subject="sandwell", team=None,
                 kind="opened", from_state="green", to_state=rating, period=period, value=value, return_id=1)
    c = build_change(CATALOG, event, series, None)
    return c.outside_green_since, c.months_outside_green


def digest_months(series: list[tuple[str, str | None, float]]) -> int:
    """What the digest says."""
    row = Row("single_assessments_45wd", "single_assessments_45wd", "PI1", "Single assessments", "percent",
              "higher_is_better", (), "sandwell", "sandwell", None, {},
              tuple(Point(p, v, r) for p, r, v in series))
    return row.months_outside_green


def test_a_missing_month_breaks_the_run_in_the_notification_and_the_digest_alike():
    series = [("2024-01", "red", 60.0), ("2024-03", "red", 61.0)]  # nothing for 2024-02
    assert change_months(series) == ("2024-03", 1)
    assert digest_months(series) == 1  # said 2: the digest did not see the gap


def brute_force(series: list[tuple[str, str | None, float]]) -> int:
    """Months in a row, ending at the latest entry, each present and rated amber or red."""
    by_period = {p: r for p, r, _ in series}
    idx, n = period_index(series[-1][0]), 0
    while by_period.get(period_from_index(idx - n)) in ("amber", "red"):
        n += 1
    return n


@st.composite
def gappy(draw):
    n = draw(st.integers(1, 30))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3]), min_size=n - 1, max_size=n - 1))
    ratings = draw(st.lists(st.sampled_from(["green", "amber", "red"]), min_size=n, max_size=n))
    base = period_index("2023-11")
    return [(period_from_index(base + o), r, float(i))
            for i, (o, r) in enumerate(zip([0, *itertools.accumulate(steps)], ratings, strict=True))]


@given(gappy())
def test_every_place_agrees_over_series_with_gaps(series):
    months = brute_force(series)
    since, n = outside_green([(p, r) for p, r, _ in series])
    assert n == months and nongreen_streak([(p, r) for p, r, _ in series]) == months
    assert since == (period_from_index(period_index(series[-1][0]) - months + 1) if months else None)
    assert change_months(series) == (since, months)
    assert digest_months(series) == months


def test_an_unrated_month_is_not_outside_green():
    series = [("2024-01", "red", 1.0), ("2024-02", None, 2.0), ("2024-03", "amber", 3.0)]
    assert digest_months(series) == 1 and outside_green([(p, r) for p, r, _ in series]) == ("2024-03", 1)
