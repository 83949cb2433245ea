"""The bands as the contract states them (rules.bands.band_sentence): "Target: 85% or more.
Within tolerance: above 70% and below 85%. Failure: 70% or less." Every shipped rule's
sentence is read back, by a reader written here from the words alone, into the very intervals
its pack holds: each edge open where the words say "above" / "below" / "more than" / "fewer
than", closed where they say "or more" / "or less" / "or fewer" / "exactly". The same holds
for generated intervals of every unit."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rules.bands import band_sentence, band_words, bands_from_described, interval_words, quantity, sentence_unit
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Bands, Interval

UNITS = ("percent", "rate_per_10000", "count", "gbp", "number")
LABELS = {"Target": "green", "Within tolerance": "amber", "Failure": "red"}


def read_quantity(text: str) -> float:
    sign = -1 if text.startswith("-") else 1
    bare = text.lstrip("-").removeprefix("£").removesuffix("%").removesuffix(" per 10,000").replace(",", "")
    return sign * float(bare)


def read_interval(text: str) -> Interval:
    """The reader: words back to an interval, nothing else accepted."""
    if text == "any value":
        return Interval()
    if text.startswith("exactly "):
        v = read_quantity(text.removeprefix("exactly "))
        return Interval(gte=v, lte=v)
    edges: dict[str, float] = {}
    for part in text.split(" and "):
        for pattern, op in ((r"^(.+) or more$", "gte"), (r"^(?:above|more than) (.+)$", "gt"),
                            (r"^(.+) or (?:less|fewer)$", "lte"), (r"^(?:below|fewer than) (.+)$", "lt")):
            if m := re.match(pattern, part):
                assert op not in edges, text
                edges[op] = read_quantity(m[1])
                break
        else:
            raise AssertionError(f"unreadable: {part!r}")
    return Interval(**edges)


def read_sentence(text: str) -> Bands:
    found: dict[str, list[Interval]] = {}
    for label, words in re.findall(r"(Target|Within tolerance|Failure): (.+?)\.(?: |$)", text):
        found[LABELS[label]] = [read_interval(w) for w in words.split(", or ")]
    assert " ".join(f"{k}: {v}." for k, v in re.findall(r"(Target|Within tolerance|Failure): (.+?)\.(?: |$)",
                                                        text)) == text
    return Bands(**found)


def same(a: Bands, b: Bands) -> bool:
    key = lambda ivs: sorted((iv.lower, iv.upper) for iv in ivs)  # noqa: E731
    return all(key(getattr(a, n)) == key(getattr(b, n)) for n in ("green", "amber", "red"))


CATALOG = load_catalog(SHIPPED_PACKS)
SHIPPED = [(f"{b.id}@{v.effective_from}", b, v) for b in CATALOG.rules for v in b.rule.versions if v.bands]


def test_pi1_reads_as_the_contract_does():
    [(_, b, v)] = [s for s in SHIPPED if s[1].id == "single_assessments_45wd"]
    assert band_sentence(v.bands, sentence_unit(b.rule)) == (
        "Target: 85% or more. Within tolerance: above 70% and below 85%. Failure: 70% or less.")


@pytest.mark.parametrize(("rule_id", "sentence"), [
    ("long_term_placement_stability",  # two-sided: too high is within tolerance too
     "Target: 67% or more and 75% or less. Within tolerance: 62% or more and below 67%, or above 75%. "
     "Failure: below 62%."),
    ("repeat_cp_plans_2yr", "Target: 15% or less. Within tolerance: above 15% and below 22%. Failure: 22% or more."),
    ("cp_plan_rate_per_10k", "Target: 45 per 10,000 or less. Within tolerance: above 45 per 10,000 and below "
                             "55 per 10,000. Failure: 55 per 10,000 or more."),
    ("sw_vacancy_rate", "Target: below 34%. Within tolerance: 34% or more and below 40%. Failure: 40% or more."),
    ("mash_referrals_24h", "Target: above 75%. Within tolerance: 65% or more and 75% or less. Failure: below 65%."),
    ("cp_case_supervision_4wk", "Target: 65% or more. Within tolerance: below 65%."),  # the 2018 suite gives no failure
    ("average_caseload", "Target: fewer than 18.5. Within tolerance: 18.5 or more and 23 or fewer. "
                         "Failure: more than 23."),
    ("forecast_overspend_pct", "Target: 0% or less. Within tolerance: above 0% and 1% or less. Failure: above 1%."),
    ("return_overdue_kpi", "Target: 0 or fewer. Failure: more than 0."),
])
def test_shipped_sentences(rule_id, sentence):
    b = CATALOG.rules_by_id[rule_id]
    assert band_sentence(b.rule.versions[0].bands, sentence_unit(b.rule)) == sentence


@pytest.mark.parametrize(("name", "bound", "version"), SHIPPED, ids=[s[0] for s in SHIPPED])
def test_every_shipped_sentence_reads_back_as_its_pack_s_bands(name, bound, version):
    """Each edge of every shipped rule: the words say open or closed exactly as the pack does."""
    text = band_sentence(version.bands, sentence_unit(bound.rule))
    assert same(read_sentence(text), version.bands), (name, text)
    # the stored description a rating keeps reads the same (the month-by-month table)
    assert band_sentence(bands_from_described(version.bands.as_dict), sentence_unit(bound.rule)) == text


edge = st.one_of(st.integers(-100_000, 100_000).map(float), st.floats(-1e9, 1e9, allow_nan=False))


@st.composite
def intervals(draw):
    lo, hi = draw(st.one_of(st.none(), edge)), draw(st.one_of(st.none(), edge))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    lo_incl, hi_incl = draw(st.booleans()), draw(st.booleans())
    if lo is not None and lo == hi:
        lo_incl = hi_incl = True
    sides = {}
    if lo is not None:
        sides["gte" if lo_incl else "gt"] = lo
    if hi is not None:
        sides["lte" if hi_incl else "lt"] = hi
    return Interval(**sides)


@given(intervals(), st.sampled_from(UNITS))
def test_an_interval_s_words_match_its_closedness(interval, unit):
    words = interval_words(interval, unit)
    assert read_interval(words) == interval, words
    (lo, lo_incl), (hi, hi_incl) = interval.lower, interval.upper
    if lo != hi:
        closed_word = "or fewer" if unit == "count" else "or less"
        assert ("or more" in words) == (lo_incl and lo > float("-inf")), words
        assert (closed_word in words) == (hi_incl and hi < float("inf")), words


@st.composite
def partitions(draw):
    """One-sided bands from two edges, each open or closed, in either polarity."""
    lo, hi = sorted(draw(st.lists(edge, min_size=2, max_size=2, unique=True)))
    lo_in, hi_in = draw(st.booleans()), draw(st.booleans())
    low = Interval(lte=lo) if lo_in else Interval(lt=lo)
    mid = Interval(**({"gt": lo} if lo_in else {"gte": lo}), **({"lt": hi} if hi_in else {"lte": hi}))
    high = Interval(gte=hi) if hi_in else Interval(gt=hi)
    higher_is_better = draw(st.booleans())
    return Bands(green=[high if higher_is_better else low], amber=[mid], red=[low if higher_is_better else high])


@given(partitions(), st.sampled_from(UNITS))
def test_a_generated_sentence_reads_back_as_its_bands(bands, unit):
    assert same(read_sentence(band_sentence(bands, unit)), bands)


@given(st.lists(intervals(), min_size=1, max_size=3), st.sampled_from(UNITS))
def test_a_band_of_several_intervals_names_each_lowest_first(ivs, unit):
    words = band_words(ivs, unit)
    assert [read_interval(w) for w in words.split(", or ")] == sorted(ivs, key=lambda iv: (iv.lower[0],
                                                                                         not iv.lower[1]))


@given(partitions())
def test_stored_descriptions_read_back(bands):
    """What a rating stores (`:g`, six figures) reads back as the same bands when the edges
    need no more figures."""
    edges = {e for _, iv in bands.by_rating() for e in (iv.lower[0], iv.upper[0]) if abs(e) != float("inf")}
    assume(len({f"{e:g}" for e in edges}) == len(edges))  # six figures keep distinct edges apart
    rounded = bands_from_described(bands.describe())
    assert rounded is not None
    if all(f"{e:g}" == repr(e).removesuffix(".0") for _, iv in bands.by_rating() for e in (iv.lower[0], iv.upper[0])
           if abs(e) != float("inf")):
        assert same(rounded, bands)


@pytest.mark.parametrize("described", [{}, {"ceiling": 22.0}, {"green": "about 85"}, {"green": ">= x"},
                                       {"green": "> 5 and < 1"}, {"green": "=> 85"}])
def test_what_is_not_a_stored_description_is_none(described):
    assert bands_from_described(described) is None


@pytest.mark.parametrize(("value", "unit", "text"), [
    (85, "percent", "85%"), (70.01, "percent", "70.01%"), (45, "rate_per_10000", "45 per 10,000"),
    (1500000, "gbp", "£1,500,000"), (-500, "gbp", "-£500"), (18.5, "count", "18.5"), (21.12, "number", "21.12")])
def test_quantities_are_exact(value, unit, text):
    assert quantity(float(value), unit) == text
