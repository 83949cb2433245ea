"""The alert decision (alerts.moves): exhaustive over small cases, property-based over long
series with gaps, and the bounded read (a window plus older periods only when `settled` says
so) gives exactly the decision over the whole history."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.lifecycle import next_state, outside_green
from alerts.moves import AlertState, decide, settled
from rules.model import Rating
from rules.periods import period_from_index, period_index

KEY = ("demo_kpi", "sandwell")
BASE = period_index("2024-01")
RATINGS = ["green", "amber", "red"]


def points(ratings: list[str], offsets: list[int] | None = None) -> list[tuple[str, str, float]]:
    offsets = offsets if offsets is not None else list(range(len(ratings)))
    return [(period_from_index(BASE + o), r, float(i)) for i, (o, r) in enumerate(zip(offsets, ratings, strict=True))]


def run_start(pts: list[tuple[str, str, float]], state: str) -> str:
    """Brute force: walk back month by month from the latest while the month is rated `state`."""
    by_period = {p: r for p, r, _ in pts}
    idx = period_index(pts[-1][0])
    if by_period[pts[-1][0]] != state:
        return pts[-1][0]
    while by_period.get(period_from_index(idx - 1)) == state:
        idx -= 1
    return period_from_index(idx)


CURRENT = [None, "green", "amber", "red"]
SERIES = [list(s) for n in (1, 2, 3) for s in itertools.product(RATINGS, repeat=n)]


@pytest.mark.parametrize("current", CURRENT)
@pytest.mark.parametrize("for_periods", [1, 2, 3])
def test_every_small_case(current, for_periods):
    for ratings in SERIES:
        pts = points(ratings)
        alerts = {KEY: AlertState(7, current, "2023-06")} if current else {}
        d = decide({KEY: "team-a"}, alerts, {KEY: pts}, {KEY[0]: for_periods})
        new, change = next_state(Rating(current) if current else None, [(p, Rating(r)) for p, r, _ in pts],
                                 for_periods)
        (row,) = d.created if current is None else d.updated
        assert (len(d.created), len(d.updated)) == ((1, 0) if current is None else (0, 1))
        assert (row.rule_id, row.subject, row.team, row.state) == (*KEY, "team-a", new.value)
        assert (row.period, row.value) == pts[-1][:1] + pts[-1][2:]
        assert row.alert_id == (7 if current else None)
        assert row.since_period == (run_start(pts, new.value) if current is None or change else "2023-06")
        if change is None:
            assert d.moves == ()
        else:
            (m,) = d.moves
            assert (m.from_state, m.to_state, m.kind) == (current, new.value, change.kind)
            assert (m.period, m.value, m.team) == (pts[-1][0], pts[-1][2], "team-a")
        assert d.moved_or_new == ({KEY} if current is None or change else set())


def test_unrated_keys_and_empty_series_are_left_alone():
    assert decide({KEY: None}, {}, {}, {}) == decide({}, {}, {}, {})
    assert decide({KEY: None}, {}, {KEY: []}, {}).created == ()


@st.composite
def gappy_series(draw):
    """A rated series with missing months (gaps of 1 to 3 months), oldest first."""
    n = draw(st.integers(1, 40))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 3]), min_size=n - 1, max_size=n - 1))
    offsets = [0] + list(itertools.accumulate(steps))
    ratings = draw(st.lists(st.sampled_from(RATINGS), min_size=n, max_size=n))
    return points(ratings, offsets)


@given(gappy_series(), st.sampled_from(CURRENT), st.integers(1, 4))
def test_since_is_the_run_of_the_new_state(pts, current, for_periods):
    alerts = {KEY: AlertState(1, current, "2020-01")} if current else {}
    d = decide({KEY: None}, alerts, {KEY: pts}, {KEY[0]: for_periods})
    (row,) = d.created or d.updated
    if KEY in d.moved_or_new:
        assert row.since_period == run_start(pts, row.state)


@given(gappy_series(), st.sampled_from(CURRENT), st.integers(1, 4), st.integers(0, 45))
def test_a_window_and_settled_give_the_whole_history_decision(pts, current, for_periods, window_from):
    """What evaluate reads: every period from `start` on, where `start` is at least
    `for_periods` months before the latest; the older periods only for keys not `settled`."""
    latest = period_index(pts[-1][0])
    start = period_from_index(min(BASE + window_from, latest - for_periods))
    alerts = {KEY: AlertState(1, current, "2020-01")} if current else {}
    full = decide({KEY: None}, alerts, {KEY: pts}, {KEY[0]: for_periods})
    window = [p for p in pts if p[0] >= start]
    d = decide({KEY: None}, alerts, {KEY: window}, {KEY[0]: for_periods})
    assert d.moves == full.moves  # the move itself never needs the older periods
    if KEY in d.moved_or_new and not settled(window, start):
        d = decide({KEY: None}, alerts, {KEY: pts}, {KEY[0]: for_periods})
    assert d == full
    if KEY in d.moved_or_new and settled(window, start):  # and the message's run is in view too
        assert outside_green([p[:2] for p in window]) == outside_green([p[:2] for p in pts])
        assert len(window) >= 2 and window[-2] == pts[-2]  # the previous rated period


def test_corrections_withdraw_only_announced_ratings_of_alerts_that_did_not_move():
    from alerts.moves import Correction, corrections

    alerts = {("pi1", "s"): AlertState(1, "amber", "2024-10"), ("pi3", "s"): AlertState(3, "amber", "2024-09")}
    earlier = {("pi1", "s", "2024-10"): "red", ("pi3", "s", "2024-10"): "green", ("pi5", "s", "2024-10"): "red",
               ("pi1", "s", "2024-09"): "amber"}
    rated = {("pi1", "s", "2024-10"): (86.0, "green", None),   # announced RED, now GREEN: corrected
             ("pi3", "s", "2024-10"): (25.0, "red", None),     # GREEN never announced for this period
             ("pi5", "s", "2024-10"): (10.0, "green", None),   # no alert (never opened)
             ("pi1", "s", "2024-09"): (71.0, "amber", None)}   # the same rating: nothing to withdraw
    announced = {(1, "2024-10", "red"), (1, "2024-09", "amber"), (3, "2024-08", "amber")}
    assert corrections(earlier, rated, set(), alerts, announced) == [
        Correction("pi1", "s", None, "2024-10", "red", "green", 86.0, 1, "amber")]
    assert corrections(earlier, rated, {("pi1", "s")}, alerts, announced) == []  # its move's message says it
    blank = {**rated, ("pi1", "s", "2024-10"): (0.0, None, None)}
    assert corrections(earlier, blank, set(), alerts, announced) == []  # a blank is "not reported", not a rating
