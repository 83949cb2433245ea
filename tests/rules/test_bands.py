"""rate() and the coverage check: every value gets exactly one rating."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rules.bands import UnratableValue, ceiling_bands, coverage_problems, is_monotone, rate, service_ceiling
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Bands, CaseloadCeilings, Interval, Rating

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


def all_shipped_bands():
    catalog = load_catalog(SHIPPED_PACKS)
    out = []
    for b in catalog.rules:
        for v in b.rule.versions:
            if v.bands is not None:
                out.append((f"{b.id}@{v.effective_from}", b.rule.polarity, v.bands))
    return out


SHIPPED = all_shipped_bands()


@st.composite
def partitions(draw):
    """Random valid one-sided bands: two edges, each side open or closed."""
    lo = draw(st.floats(-1000, 1000, allow_nan=False))
    hi = draw(st.floats(-1000, 1000, allow_nan=False).filter(lambda x: x > lo))
    lo_incl, hi_incl = draw(st.booleans()), draw(st.booleans())
    red = Interval(lte=lo) if lo_incl else Interval(lt=lo)
    amber = Interval(**({"gt": lo} if lo_incl else {"gte": lo}), **({"lt": hi} if hi_incl else {"lte": hi}))
    green = Interval(gte=hi) if hi_incl else Interval(gt=hi)
    return Bands(green=[green], amber=[amber], red=[red]), lo, hi


@given(partitions(), finite)
def test_generated_partitions_rate_every_value_exactly_once(p, value):
    bands, _, _ = p
    assert coverage_problems(bands) == []
    claims = [r for r, iv in bands.by_rating() if iv.contains(value)]
    assert len(claims) == 1
    assert rate(value, bands) is claims[0]


def critical_points(bands: Bands) -> list[float]:
    """Every value where a rating could change, and values between: each finite edge, the
    floats just either side of it, the midpoint of each pair of neighbouring edges, and far
    out on both sides. Ratings are constant between neighbouring edges, so a property that
    holds at these points holds over the whole real line (random floats in +-1e12 almost never
    land within a rounding of an edge such as 85.0)."""
    edges = sorted({e for _, iv in bands.by_rating() for e in (iv.lower[0], iv.upper[0]) if math.isfinite(e)})
    points = {-1e300, -1e12, 1e12, 1e300}
    for e in edges:
        points |= {e, math.nextafter(e, -math.inf), math.nextafter(e, math.inf)}
    points |= {(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)}
    return sorted(points)


@pytest.mark.parametrize(("name", "polarity", "bands"), SHIPPED, ids=[s[0] for s in SHIPPED])
def test_shipped_bands_cover_the_line_exactly_once(name, polarity, bands):
    assert coverage_problems(bands) == []
    for value in critical_points(bands):
        assert sum(iv.contains(value) for _, iv in bands.by_rating()) == 1, value


@pytest.mark.parametrize(("name", "polarity", "bands"), [s for s in SHIPPED if s[1] != "two_sided"],
                         ids=[s[0] for s in SHIPPED if s[1] != "two_sided"])
def test_one_sided_bands_are_monotone(name, polarity, bands):
    assert is_monotone(bands, polarity == "higher_is_better")
    severities = [rate(v, bands).severity for v in critical_points(bands)]  # low to high values
    if polarity == "higher_is_better":
        severities.reverse()
    assert severities == sorted(severities), severities  # never less severe as the value worsens


@given(partitions(), st.floats(0.01, 0.99))
def test_critical_points_find_a_gap_anywhere(p, fraction):
    """What the two tests above rest on: move amber's lower edge into the band (a gap between
    red and amber, wherever it falls) and some critical point is claimed by no band."""
    bands, lo, hi = p
    a = lo + fraction * (hi - lo)
    assume(lo < a < hi)  # the edges may be a rounding apart
    broken = Bands(green=bands.green, amber=[Interval(gte=a, lte=hi)],
                   red=bands.red)
    assert any(sum(iv.contains(v) for _, iv in broken.by_rating()) != 1 for v in critical_points(broken))


def test_gap_and_overlap_are_reported():
    gap = Bands(green=[Interval(gte=85)], amber=[Interval(gt=70.01, lt=84.99)], red=[Interval(lte=70)])
    messages = [p.message for p in coverage_problems(gap)]
    assert messages == ["gap (70, 70.01]: no band claims these values", "gap [84.99, 85): no band claims these values"]
    overlap = Bands(green=[Interval(lte=3)], amber=[Interval(gte=3, lte=5)], red=[Interval(gte=5)])
    assert len(coverage_problems(overlap)) == 2
    assert "overlap" in coverage_problems(overlap)[0].message
    unbounded = Bands(green=[Interval(gte=0)])
    assert [p.message for p in coverage_problems(unbounded)] == ["gap below [0"]


def test_nan_and_unclaimed_values_are_refused():
    bands = Bands(green=[Interval(gte=0)])
    with pytest.raises(UnratableValue):
        rate(math.nan, bands)
    with pytest.raises(UnratableValue):
        rate(-1, bands)


def test_interval_rejects_contradictions():
    with pytest.raises(ValueError, match="gt or gte"):
        Interval(gt=1, gte=1)
    with pytest.raises(ValueError, match="empty interval"):
        Interval(gt=5, lt=5)


@pytest.mark.parametrize(
    ("service", "asye", "value", "expected"),
    [
        ("assessment_intervention", False, 22, Rating.GREEN),
        ("assessment_intervention", False, 22.01, Rating.AMBER),
        ("assessment_intervention", False, 26.4, Rating.AMBER),
        ("assessment_intervention", False, 26.41, Rating.RED),
        ("assessment_intervention", True, 17.6, Rating.GREEN),
        ("assessment_intervention", True, 18, Rating.AMBER),
        ("assessment_intervention", True, 21.12, Rating.AMBER),
        ("assessment_intervention", True, 21.13, Rating.RED),
        ("court_child_protection", False, 15, Rating.GREEN),
        ("court_child_protection", False, 18, Rating.AMBER),
        ("court_child_protection", False, 19, Rating.RED),
        ("court_child_protection", True, 12, Rating.GREEN),
        ("court_child_protection", True, 13, Rating.AMBER),
        ("children_we_care_for", False, 16, Rating.AMBER),
        ("care_leavers", False, 21, Rating.GREEN),
        ("care_leavers", False, 26, Rating.RED),
    ],
)
def test_caseload_ceilings(service, asye, value, expected):
    ceilings = CaseloadCeilings(by_service={"assessment_intervention": 22, "court_child_protection": 15,
                                            "children_we_care_for": 15, "care_leavers": 21})
    ceiling = service_ceiling(ceilings, service, asye)
    assert rate(value, ceiling_bands(ceiling, ceilings.amber_factor)) is expected
