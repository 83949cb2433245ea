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
