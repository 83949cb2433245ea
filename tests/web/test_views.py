"""The web app's pure view models (alerts/web/views.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from alerts.web.views import calendar_grid, describe, indicator_choices, indicator_label, split_problem, subject_name
from rules.calendar import CalendarRow
from rules.loader import SHIPPED_PACKS, load_catalog

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
