"""The web app's pure view models (alerts/web/views.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from alerts.web.views import calendar_grid, describe, indicator_choices, indicator_label, split_problem
from rules.calendar import CalendarRow
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.vocabulary import subject_name

CATALOG = load_catalog(SHIPPED_PACKS)
TODAY = dt.date(2026, 12, 3)


def test_subjects_read_as_people_say_them():
    assert subject_name("sandwell") == "Sandwell"
    assert subject_name("sandwell/team/cwcf-1") == "Sandwell, team cwcf-1"
    assert subject_name("sandwell/worker/SW-0001") == "Sandwell, worker SW-0001"


@given(st.text(min_size=1).filter(lambda s: ":" not in s), st.integers(0, 10**6), st.text(min_size=1),
       st.text())
def test_a_problem_line_splits_into_row_column_and_message_whatever_the_file_name(file, row, column, message):
    column = column.replace(":", "")
    if not column:
        return
    line = f"{file}:{row}:{column}: {message}"
    assert split_problem(line, file) == (str(row), column, message.strip())


def test_a_problem_of_another_file_is_kept_whole():
    assert split_problem("other.csv:2:value: bad", "k.csv") == ("", "", "other.csv:2:value: bad")


def test_an_indicator_is_named_as_todays_suite_names_it():
    assert indicator_label(CATALOG, "single_assessments_45wd", TODAY).startswith("PI1 ")
    assert indicator_label(CATALOG, "PI1", TODAY).startswith("PI1 ")
    assert indicator_label(CATALOG, "no_such_thing", TODAY) == "no_such_thing"
    choices = indicator_choices(CATALOG, TODAY)
    assert [label.split()[0] for _, label in choices[:15]] == [f"PI{i}" for i in range(1, 16)]
    assert len({key for key, _ in choices}) == len(choices)


def test_a_subscription_is_described_in_words():
    rows = dict(describe(CATALOG, {"indicators": ["single_assessments_45wd"], "tags": [], "providers": ["sandwell"],
                                   "teams": [], "transitions": [], "min_severity": "red", "delivery": "both"}, TODAY))
    assert rows["Indicators"].startswith("PI1 ") and rows["Providers"] == "Sandwell" and rows["Tags"] == "Any"
    assert rows["Severity"] == "In failure only (red)" and rows["When"] == "Straight away and in the weekly digest"


def test_the_calendar_grid_keeps_the_last_months_by_provider_and_kind():
    rows = [CalendarRow(p, k, f"2025-{m:02d}", dt.date(2025, m, 15), dt.date(2025, m, 20), "submitted", None)
            for p in ("walsall", "sandwell") for k in ("kpi", "finance") for m in range(1, 13)]
    periods, lines = calendar_grid(rows, months=3)
    assert periods == ["2025-10", "2025-11", "2025-12"]
    assert [(line.provider, line.kind) for line in lines] == [("sandwell", "finance"), ("sandwell", "kpi"),
                                                             ("walsall", "finance"), ("walsall", "kpi")]
    assert all(sorted(line.cells) == periods for line in lines)


# --- the indicator page's history and acknowledgements -------------------------------------


def _event(kind: str, was: str | None, now: str, at: dt.datetime, by: str | None = None, role: str | None = None,
           note: str | None = None):  # noqa: ANN202
    from alerts.store.models import AlertEvent

    return AlertEvent(alert_id=1, rule_id="single_assessments_45wd", subject="sandwell", provider="sandwell",
                      from_state=was, to_state=now, kind=kind, period="2024-10", value=60.0, by=by, by_role=role,
                      note=note, at=at)


def test_each_event_says_its_month_and_the_day_it_became_known_where_the_install_is():
    from alerts.web.views import history_line

    late = dt.datetime(2024, 11, 12, 23, 30, tzinfo=dt.UTC)  # 12 Nov in London (GMT), 13 Nov in Sydney
    summer = dt.datetime(2024, 6, 30, 23, 30, tzinfo=dt.UTC)  # 1 Jul in London (BST)
    cases = [(("opened", None, "amber", late), "Europe/London", "known 12 Nov 2024", "alert opened, within tolerance"),
             (("opened", "amber", "red", late), "Australia/Sydney", "known 13 Nov 2024", "alert opened, in failure"),
             (("escalated", "amber", "red", summer), "Europe/London", "known 1 Jul 2024",
              "in failure (was within tolerance)"),
             (("deescalated", "red", "amber", late), "Europe/London", "known 12 Nov 2024",
              "now within tolerance (was in failure)"),
             (("resolved", "amber", "green", late), "Europe/London", "known 12 Nov 2024",
              "back on target (was within tolerance)"),
             (("reminder", "red", "red", late), "Europe/London", "known 12 Nov 2024",
              "reminder sent, still in failure"),
             (("corrected", "red", "amber", late), "Europe/London", "known 12 Nov 2024",
              "corrected, within tolerance (was in failure)")]
    for (kind, was, now, at), zone, when, text in cases:
        line = history_line(_event(kind, was, now, at), zone)
        assert (line.period, line.when, line.text) == ("2024-10", when, text), kind


def test_an_acknowledgement_says_who_and_in_what_role():
    from alerts.web.views import acknowledger, history_line

    at = dt.datetime(2024, 11, 13, 9, 0, tzinfo=dt.UTC)
    line = history_line(_event("acknowledged", "red", "red", at, "Jo Bloggs <jo@example.org>", "performance", "Seen"),
                        "Europe/London")
    assert (line.when, line.text, line.note) == ("on 13 Nov 2024", "acknowledged by Jo Bloggs (performance team)",
                                                 "Seen")
    assert acknowledger("jo@example.org", "admin") == "jo@example.org (admin)"  # no name: the address
    assert acknowledger("Jo Bloggs", None) == "Jo Bloggs (command line)"  # kpi-alerts ack --by
    assert acknowledger("token sandwell-scripts", "performance") == "token sandwell-scripts (performance team)"
    assert acknowledger("<b>Jo</b> <jo@example.org>", "viewer") == "<b>Jo</b> (viewer)"  # escaped by the template


def _row(rule_id: str, rating: str, code: str | None = None, tags: tuple[str, ...] = (), subject: str = "sandwell"):
    from alerts.digest.compose import Point, Row
    return Row(rule_id=rule_id, indicator=rule_id, code=code, name=rule_id, unit="percent", polarity="higher_is_better",
               tags=tags, provider="sandwell", subject=subject, team=None, thresholds={},
               series=(Point("2026-01", 1.0, rating),))


def test_the_board_headline_says_what_it_counts_and_never_contradicts_the_rows():
    """Issue 17: 'none in failure' stood above two finance rows in failure. Each area is counted
    apart; a team's or worker's row is not the provider's and is left to the caseloads line."""
    from alerts.digest.compose import WeekData
    from alerts.web.views import Filters, boards
    kpis = [_row(f"k{i}", "green" if i < 10 else "amber", code=f"PI{i + 1}") for i in range(15)]
    finance = [_row("forecast_overspend_pct", "red", tags=("finance",)), _row("ytd_overspend_pct", "red",
                                                                              tags=("finance",))]
    caseloads = [_row("trust_average_caseload", "green", tags=("caseloads",)),
                 _row("worker_caseload", "red", tags=("caseloads",), subject="sandwell/worker/SW-1")]
    start = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    data = WeekData("2026-W09", start, start + dt.timedelta(days=7), tuple(kpis + finance + caseloads), (), (), ())
    (board,) = boards(CATALOG, data, Filters())
    assert board.headline == ("10 KPIs on target, 5 within tolerance, none in failure; finance: 2 in failure; "
                              "caseloads: 1 on target")
    in_failure = [c for c in board.cells if c.rating == "red"]
    assert len(in_failure) == 2 and "2 in failure" in board.headline  # the rows it stands above
    (only,) = boards(CATALOG, WeekData("2026-W09", start, start, tuple(finance), (), (), ()), Filters())
    assert only.headline == "Finance: 2 in failure"  # no 'no KPIs on target' where it counts no KPIs
