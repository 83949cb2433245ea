"""The indicator chart (alerts/web/chart.py), pure: well-formed SVG whatever the series, a
point per rated month named in words, the bands in force each month (a dated revision is a
step), comparators as dashed lines from their date, every text escaped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from alerts.web.chart import Comparator, Interval, Month, series_svg, ticks

NS = {"s": "http://www.w3.org/2000/svg"}
INF = math.inf
OLD = {"green": (Interval(85, INF),), "amber": (Interval(70, 85),), "red": (Interval(-INF, 70),)}
NEW = {"green": (Interval(90, INF),), "amber": (Interval(75, 90),), "red": (Interval(-INF, 75),)}


def periods(n: int) -> list[str]:
    return [f"{2024 + (3 + i) // 12}-{(3 + i) % 12 + 1:02d}" for i in range(n)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, checked for well-formedness


values = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))
ratings = st.sampled_from(["green", "amber", "red", None])


@given(st.lists(st.tuples(values, ratings), min_size=1, max_size=72), st.booleans())
def test_any_series_is_well_formed_svg_with_a_named_point_per_rated_month(series, banded):
    months = [Month(p, v, r, OLD if banded else {}) for p, (v, r) in zip(periods(len(series)), series, strict=True)]
    root = parse(series_svg(months, "PI1 <b>&</b>", "%"))
    assert root.find("s:title", NS).text == "PI1 <b>&</b>"  # escaped in the markup, the text itself intact
    circles = root.findall("s:circle", NS)
    assert len(circles) == sum(v is not None for v, _ in series)
    words = {"green": "on target", "amber": "within tolerance", "red": "in failure", None: "not rated"}
    for circle, (period, (_v, r)) in zip(circles, [(p, s) for p, s in zip(periods(len(series)), series, strict=True)
                                                 if s[0] is not None], strict=True):
        assert circle.find("s:title", NS).text.startswith(f"{period}: ") and words[r] in circle.find("s:title", NS).text


def test_nothing_rated_draws_nothing():
    assert series_svg([], "x") == ""


def test_a_dated_revision_of_the_bands_shows_as_a_step():
    months = [Month(p, 80.0, "amber", OLD if i < 6 else NEW) for i, p in enumerate(periods(12))]
    root = parse(series_svg(months, "PI9"))
    greens = [r for r in root.findall("s:rect", NS) if r.get("fill") == "#cce2d8"]
    assert len(greens) == 12
    heights = [round(float(r.get("height")), 1) for r in greens]
    assert len(set(heights[:6])) == 1 and len(set(heights[6:])) == 1 and heights[0] > heights[6]  # green got narrower


def test_comparators_are_dashed_lines_from_their_date_with_their_names():
    months = [Month(p, 10.0 + i, "amber", OLD) for i, p in enumerate(periods(12))]
    england = Comparator("England", (("", 10.0),))
    neighbours = Comparator("stat. neighbours", (("2024-10", 9.8), ("2025-01", 10.8)))
    root = parse(series_svg(months, "PI8", "", [england, neighbours]))
    lines = [p for p in root.findall("s:polyline", NS) if p.get("stroke-dasharray")]
    assert [line.find("s:title", NS).text for line in lines] == ["England", "stat. neighbours"]
    assert len({line.get("stroke-dasharray") for line in lines}) == 2  # told apart without colour
    assert len(lines[0].get("points").split()) == 12  # undated: the whole series
    assert len(lines[1].get("points").split()) == 6  # from 2024-10 on
    assert "dashed lines: England, stat. neighbours" in root.find("s:desc", NS).text


def test_a_comparator_holds_its_latest_figure():
    c = Comparator("SN", (("", 9.8), ("2025-06", 10.8)))
    assert (c.value_in("2024-04"), c.value_in("2025-05"), c.value_in("2025-06"), c.value_in("2026-01")) == (
        9.8, 9.8, 10.8, 10.8)
    assert Comparator("X", (("2025-01", 1.0),)).value_in("2024-12") is None


def test_the_value_axis_has_its_unit_and_round_values():
    months = [Month(p, v, "amber", OLD) for p, v in zip(periods(3), (68.8, 77.3, 86.4), strict=True)]
    root = parse(series_svg(months, "PI1", "%", axis="Per cent (%)"))
    texts = [t.text for t in root.findall("s:text", NS)]
    assert "Per cent (%)" in texts  # the axis's title, written up its side
    [title] = [t for t in root.findall("s:text", NS) if t.text == "Per cent (%)"]
    assert title.get("transform", "").startswith("rotate(-90")
    # 68.8 to 86.4 over the 70 and 85 edges: 67.04 to 88.16 drawn
    assert [t for t in texts if t.endswith("%") and t[:-1].replace(".", "").isdigit()] == ["70%", "75%", "80%", "85%"]


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(1e-3, 1e6, allow_nan=False))
def test_ticks_are_round_within_the_range_and_few(lo, span):
    found = ticks(lo, lo + span)
    assert 1 <= len(found) <= 7 and found == sorted(found)
    assert all(lo - 1e-9 * span <= t <= lo + span * (1 + 1e-9) for t in found)
    diffs = {float(f"{b - a:.3g}") for a, b in zip(found, found[1:], strict=False)}  # float subtraction, to 3 figures
    steps = {round(d / 10 ** math.floor(math.log10(d)), 6) for d in diffs}
    assert len(diffs) <= 1
    assert steps <= {1.0, 2.0, 2.5, 5.0}, (found, steps)


def test_comparators_of_one_value_share_a_line_and_labels_do_not_write_over_each_other():
    months = [Month(p, 63.0, "amber", {}) for p in periods(12)]
    root = parse(series_svg(months, "PI9", "%", [Comparator("stat. neighbours", (("", 67.3),)),
                                                 Comparator("England", (("", 68.0),)),
                                                 Comparator("West Midlands", (("", 68.0),))]))
    lines = [p for p in root.findall("s:polyline", NS) if p.get("stroke-dasharray")]
    assert [line.find("s:title", NS).text for line in lines] == ["stat. neighbours", "England, West Midlands"]
    ys = sorted(float(t.get("y")) for t in root.findall("s:text", NS)
                if t.text in ("stat. neighbours", "England, West Midlands"))
    assert len(ys) == 2 and ys[1] - ys[0] >= 12
    assert "dashed lines: stat. neighbours, England, West Midlands" in root.find("s:desc", NS).text
