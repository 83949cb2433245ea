"""The one vocabulary (rules/vocabulary.py): words and order of the ratings."""

from __future__ import annotations

import pytest

from rules import vocabulary as v
from rules.model import Rating


def test_the_trust_s_words_for_each_band():
    assert [v.status(r) for r in v.RATINGS] == ["on target", "within tolerance", "in failure"]
    assert v.status(None) == v.status("purple") == "not rated"
    assert v.labelled("amber") == "amber, within tolerance" and v.labelled(None) == "not rated"


@pytest.mark.parametrize("ratings, worst", [(["green", "red", "amber"], "red"), (["green", None], "green"),
                                            ([None], None), ([], None), (["amber", "green"], "amber")])
def test_worst(ratings, worst):
    assert v.worst(ratings) == worst


def test_one_severity_order():
    assert sorted(v.RATINGS, key=v.severity) == list(v.RATINGS)
    assert [Rating(r).severity for r in v.RATINGS] == [v.severity(r) for r in v.RATINGS] == [0, 1, 2]
    assert v.severity(None) < v.severity("green")


@pytest.mark.parametrize("kind, to, said", [
    ("opened", "red", "in failure"), ("escalated", "red", "in failure"), ("opened", "amber", "within tolerance"),
    ("deescalated", "amber", "now within tolerance"), ("resolved", "green", "back on target"),
    ("reminder", "red", "still in failure"), ("reminder", "amber", "still within tolerance"),
    ("corrected", "green", "corrected")])
def test_what_a_change_says_in_the_trust_s_words(kind, to, said):
    assert v.change(kind, to) == said and "breach" not in said and "red" not in said.split()


def test_breach_is_never_said_of_anything_but_failure():
    said = {v.change(k, r) for k in ("opened", "escalated", "deescalated", "resolved", "reminder") for r in v.RATINGS}
    assert not any("breach" in s for s in said)
    real = [("opened", "amber"), ("opened", "red"), ("escalated", "red"), ("deescalated", "amber"),
            ("resolved", "green"), ("reminder", "red"), ("reminder", "amber"), ("corrected", "green")]
    assert set(v.CHANGE_ORDER) == {v.change(k, r) for k, r in real}  # every word a message counts, ranked


def test_a_position_in_the_trust_s_order_or_worst_first():
    assert v.position({"green": 10, "amber": 5}) == "10 KPIs on target, 5 within tolerance, none in failure"
    assert v.position({"green": 8, "amber": 5, "red": 2}, worst_first=True) == \
        "2 KPIs in failure, 5 within tolerance, 8 on target"
    assert v.position({}, "team") == "no teams on target, none within tolerance, none in failure"
    assert v.was("amber") == " (was within tolerance)" and v.was(None) == ""
