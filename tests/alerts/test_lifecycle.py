"""next_state: exhaustive over small cases, and property-based over long series."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.lifecycle import next_state, nongreen_streak, target_state, transition
from rules.model import Rating
from rules.periods import period_from_index, period_index

G, A, R = Rating.GREEN, Rating.AMBER, Rating.RED
STATES = [None, G, A, R]


def months(*ratings: Rating, start: str = "2024-04") -> list[tuple[str, Rating]]:
    base = period_index(start)
    return [(period_from_index(base + i), r) for i, r in enumerate(ratings)]


@pytest.mark.parametrize(
    ("current", "new", "kind"),
    [
        (None, A, "opened"), (None, R, "opened"), (G, A, "opened"), (G, R, "opened"),
        (A, R, "escalated"), (R, A, "deescalated"), (A, G, "resolved"), (R, G, "resolved"),
        (None, G, None), (G, G, None), (A, A, None), (R, R, None), (A, None, None),
    ],
)
def test_every_transition(current, new, kind):
    t = transition(current, new)
    assert (t.kind if t else None) == kind
    if t:
        assert (t.from_state, t.to_state) == (current, new)


@pytest.mark.parametrize(("current", "latest"), list(itertools.product(STATES, [G, A, R])))
def test_for_periods_1_follows_latest(current, latest):
    new, _ = next_state(current, months(G, latest), for_periods=1)
    assert new is latest


def test_for_periods_waits_for_consecutive_months():
    series = months(A)
    assert next_state(None, series, 2) == (G, None)  # pending: recorded, not opened
    new, t = next_state(G, months(A, R), 2)
    assert new is R and t.kind == "opened"


def test_gap_month_breaks_the_streak():
    series = [("2024-04", A), ("2024-06", A)]  # May missing
    assert nongreen_streak(series) == 1
    assert target_state(G, series, 2) is G
    assert nongreen_streak([("2024-05", A), ("2024-06", A)]) == 2


def test_open_alert_follows_latest_even_below_streak():
    # already open: a de-escalation does not need a new streak
    assert target_state(R, months(R, A), 3) is A


def test_late_return_for_older_period_does_not_override_newer():
    # newest period (2024-06) is green; a late red for 2024-04 changes history only
    series = [("2024-04", R), ("2024-05", G), ("2024-06", G)]
    assert next_state(G, series, 1) == (G, None)


def test_no_ratings_no_change():
    assert next_state(A, [], 1) == (A, None)


@given(st.lists(st.sampled_from([G, A, R]), min_size=1, max_size=30), st.integers(1, 4))
def test_replaying_a_series_month_by_month(ratings, n):
    """Fed one month at a time, the alert is open exactly when the last n months are all
    non-green (or it was open and the latest is non-green), and every event is consistent."""
    state = None
    series: list[tuple[str, Rating]] = []
    for period, rating in months(*ratings):
        series.append((period, rating))
        new, t = next_state(state, series, n)
        if rating is G:
            assert new is G
        elif state in (A, R):
            assert new is rating
        else:
            assert (new is rating) == (nongreen_streak(series) >= n)
        if t is not None:
            assert t.from_state is state and t.to_state is new and new is not state
        else:
            assert new is state or (state is None and new is G)
        state = new
    # a replay of the same full series from scratch agrees on the latest rating when green
    if ratings[-1] is G:
        assert state is G
