"""The contract KPI packs (2024 and 2018 suites) rate every band edge as the contract says.

The expected bands below are written out by hand from the source documents, independently
of the YAML packs: a pack edit that moves an edge, flips an operator or drops a band fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rules.bands import rate
from rules.catalog import BoundRule, Catalog
from rules.check import check_packs
from rules.expressions import compile_expression
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Rating

G, A, R = Rating.GREEN, Rating.AMBER, Rating.RED

IN_2024 = dt.date(2024, 5, 1)
IN_2018 = dt.date(2019, 5, 1)
DELTAS = (0.001, 0.01)

# code -> (rule id, measure key, unit, polarity)
KEYS_2024 = {
    "PI1": ("single_assessments_45wd", "single_assessments_45wd", "percent", "higher_is_better"),
    "PI2": ("cin_visits_on_time", "cin_visits_on_time", "percent", "higher_is_better"),
    "PI3": ("repeat_cp_plans_2yr", "repeat_cp_plans_2yr", "percent", "lower_is_better"),
    "PI4": ("cp_plan_rate_per_10k", "cp_plan_rate_per_10k", "rate_per_10000", "lower_is_better"),
    "PI5": ("cwd_assessment_updated_12m", "cwd_assessment_updated_12m", "percent", "higher_is_better"),
    "PI6": ("permanence_plan_second_review", "permanence_plan_second_review", "percent", "higher_is_better"),
    "PI7": ("cwcf_rate_per_10k", "cwcf_rate_per_10k", "rate_per_10000", "lower_is_better"),
    "PI8": ("placement_moves_3plus", "placement_moves_3plus", "percent", "lower_is_better"),
    "PI9": ("long_term_placement_stability", "long_term_placement_stability", "percent", "two_sided"),
    "PI10": ("care_leaver_pathway_plan_updated", "care_leaver_pathway_plan_updated", "percent", "higher_is_better"),
    "PI11": ("cp_plans_over_2yr", "cp_plans_over_2yr", "percent", "lower_is_better"),
    "PI12": ("sw_vacancy_rate", "sw_vacancy_rate", "percent", "lower_is_better"),
    "PI13": ("supervision_8wk", "supervision_8wk", "percent", "higher_is_better"),
    "PI14": ("cin_9m_senior_review", "cin_9m_senior_review", "percent", "higher_is_better"),
    "PI15": ("foster_placement_usage", "foster_placement_usage", "percent", "higher_is_better"),
}

KEYS_2018 = {
    "PI1": ("mash_referrals_24h", "mash_referrals_24h", "percent", "higher_is_better"),
    "PI2": ("cp_plan_rate_per_10k_2018", "cp_plan_rate_per_10k", "rate_per_10000", "lower_is_better"),
    "PI3": ("icpc_15wd", "icpc_15wd", "percent", "higher_is_better"),
    "PI4": ("single_assessments_45wd_2018", "single_assessments_45wd", "percent", "higher_is_better"),
    "PI5": ("unallocated_children_5wd", "unallocated_children_5wd", "count", "lower_is_better"),
    "PI6": ("cp_visits_on_time", "cp_visits_on_time", "percent", "higher_is_better"),
    "PI7": ("cp_plan_updated_6m", "cp_plan_updated_6m", "percent", "higher_is_better"),
    "PI8": ("cp_case_supervision_4wk", "cp_case_supervision_4wk", "percent", "higher_is_better"),
    "PI9": ("return_interviews_72h", "return_interviews_72h", "percent", "higher_is_better"),
    "PI10": ("cin_visits_on_time_2018", "cin_visits_on_time", "percent", "higher_is_better"),
    "PI11": ("lac_visits_statutory", "lac_visits_statutory", "percent", "higher_is_better"),
    "PI12": ("lac_reviews_on_time", "lac_reviews_on_time", "percent", "higher_is_better"),
    "PI13": ("sw_vacancy_rate_2018", "sw_vacancy_rate", "percent", "lower_is_better"),
    "PI14": ("average_caseload", "average_caseload", "count", "lower_is_better"),
    "PI15": ("case_file_audits_ri_or_better", "case_file_audits_ri_or_better", "percent", "higher_is_better"),
}

# Each edge: (edge, rating just below, rating exactly on it, rating just above).
# 2024 suite: contract table (001 section (j)); gaps in (j) rated amber; PI9 revised Feb 2025.
EDGES_2024 = {
    "PI1": [(70, R, R, A), (85, A, G, G)],
    "PI2": [(57, R, R, A), (73, A, G, G)],
    "PI3": [(15, G, G, A), (22, A, R, R)],
    "PI4": [(45, G, G, A), (55, A, R, R)],
    "PI5": [(80, R, R, A), (90, A, G, G)],
    "PI6": [(85, R, R, A), (95, A, G, G)],
    "PI7": [(94, G, G, A), (100, A, R, R)],
    "PI8": [(9, G, G, A), (12, A, R, R)],
    "PI9": [(62, R, A, A), (67, A, G, G), (75, G, G, A)],
    "PI10": [(83, R, R, A), (93, A, G, G)],
    "PI11": [(3, G, G, A), (5, A, R, R)],
    "PI12": [(34, G, A, A), (40, A, R, R)],
    "PI13": [(70, R, R, A), (80, A, G, G)],
    "PI14": [(70, R, R, A), (80, A, G, G)],
    "PI15": [(88, R, R, A), (92, A, G, G)],
}

# 2018 suite (003): strict operators; target and tolerance edges both amber; PI2 red from 80;
# PI15 target read as > 55.
EDGES_2018 = {
    "PI1": [(65, R, A, A), (75, A, A, G)],
    "PI2": [(65, G, A, A), (80, A, R, R)],
    "PI3": [(65, R, A, A), (80, A, A, G)],
    "PI4": [(75, R, A, A), (85, A, A, G)],
    "PI5": [(10, G, A, A), (30, A, A, R)],
    "PI13": [(32, G, A, A), (37, A, A, R)],
    "PI14": [(18.5, G, A, A), (23, A, A, R)],
    "PI15": [(40, R, A, A), (55, A, A, G)],
}

# Target-only 2018 KPIs: green at or above the target, amber below, never red.
TARGET_ONLY_2018 = {"PI8": 65, "PI9": 70}
UNRATED_2018 = ("PI6", "PI7", "PI10", "PI11", "PI12")

# Far-out values pin the unbounded outer bands; PI1 and PI9 also pin the (j) gaps rated amber.
EXTREMES_2024 = {
    "PI1": [(0, R), (100, G), (70.005, A), (70.01, A), (70.015, A), (84.985, A), (84.99, A), (84.995, A)],
    "PI2": [(0, R), (100, G)],
    "PI3": [(0, G), (18.5, A), (100, R)],
    "PI4": [(0, G), (500, R)],
    "PI5": [(0, R), (100, G)],
    "PI6": [(0, R), (100, G)],
    "PI7": [(0, G), (93.97, G), (500, R)],
    "PI8": [(0, G), (100, R)],
    "PI9": [(0, R), (71, G), (100, A), (75.05, A), (75.1, A), (75.15, A)],
    "PI10": [(0, R), (100, G)],
    "PI11": [(0, G), (4, A), (100, R)],
    "PI12": [(0, G), (100, R)],
    "PI13": [(0, R), (100, G)],
    "PI14": [(0, R), (100, G)],
    "PI15": [(0, R), (100, G)],
}
EXTREMES_2018 = {
    "PI1": [(0, R), (100, G)], "PI2": [(0, G), (500, R)], "PI3": [(0, R), (100, G)],
    "PI4": [(0, R), (100, G)], "PI5": [(0, G), (1000, R)], "PI13": [(0, G), (100, R)],
    "PI14": [(0, G), (100, R)], "PI15": [(0, R), (74.9, G), (100, G)],
}

# Derived rules (no code) rate counts-based rates with PI4 / PI7's bands.
DERIVED = {
    "cp_plan_rate_per_10k_derived": "PI4",
    "cwcf_rate_per_10k_derived": "PI7",
}
DERIVED_EDGES = {
    "cp_plan_rate_per_10k_derived": [(45, G, G, A), (55, A, R, R)],
    "cwcf_rate_per_10k_derived": [(94, G, G, A), (100, A, R, R)],
}

ALLOWED_TAGS = {
    "safeguarding", "child_protection", "children_in_need", "assessment", "children_in_care", "placements",
    "permanence", "care_leavers", "disabilities", "workforce", "quality", "contract",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(SHIPPED_PACKS)


def _by_code(catalog: Catalog, suite: str, code: str) -> BoundRule:
    found = [b for b in catalog.rules if b.suite == suite and b.code == code]
    assert len(found) == 1, f"suite {suite} code {code}: {len(found)} rules"
    return found[0]


def _points(edges):
    for edge, below, at, above in edges:
        yield edge, at
        for d in DELTAS:
            yield round(edge - d, 6), below
            yield round(edge + d, 6), above


def _cases(suite, table, extremes):
    cases = []
    for code, edges in table.items():
        for value, expected in [*_points(edges), *extremes.get(code, [])]:
            cases.append(pytest.param(suite, code, value, expected, id=f"{suite}-{code}-{value:g}"))
    return cases


BAND_CASES = [*_cases("2024", EDGES_2024, EXTREMES_2024), *_cases("2018", EDGES_2018, EXTREMES_2018)]


def test_shipped_packs_pass_check():
    _, problems = check_packs(SHIPPED_PACKS)
    assert [str(p) for p in problems] == []


@pytest.mark.parametrize(("suite", "code", "value", "expected"), BAND_CASES)
def test_band_edges(catalog, suite, code, value, expected):
    bound = _by_code(catalog, suite, code)
    version = bound.rule.version_for(IN_2024 if suite == "2024" else IN_2018)
    assert version is not None and version.bands is not None
    assert rate(value, version.bands) == expected


DERIVED_CASES = [
    pytest.param(rule_id, value, expected, id=f"{rule_id}-{value:g}")
    for rule_id, edges in DERIVED_EDGES.items()
    for value, expected in _points(edges)
]


@pytest.mark.parametrize(("rule_id", "value", "expected"), DERIVED_CASES)
def test_derived_rule_edges(catalog, rule_id, value, expected):
    version = catalog.rules_by_id[rule_id].rule.version_for(IN_2024)
    assert version is not None and version.bands is not None
    assert rate(value, version.bands) == expected


@pytest.mark.parametrize(("rule_id", "code"), DERIVED.items())
def test_derived_rules_match_their_kpi(catalog, rule_id, code):
    derived = catalog.rules_by_id[rule_id]
    kpi = _by_code(catalog, "2024", code)
    assert derived.code is None
    assert derived.rule.measure_key == rule_id
    assert derived.rule.version_for(IN_2024).bands == kpi.rule.version_for(IN_2024).bands
    assert (derived.rule.unit, derived.rule.polarity) == (kpi.rule.unit, kpi.rule.polarity)
    assert set(derived.rule.tags) == set(kpi.rule.tags) - {"contract"}  # a rate from counts is not the contract KPI
    assert rule_id in {d.key for _, d in catalog.derived}


def test_derived_cwcf_rate_from_counts(catalog):
    derived = {d.key: d for _, d in catalog.derived}
    expr = compile_expression(derived["cwcf_rate_per_10k_derived"].expr)
    value = expr.evaluate({"children_we_care_for": 816, "population_under_18": 86_835})
    assert value == pytest.approx(93.97, abs=0.005)
    version = catalog.rules_by_id["cwcf_rate_per_10k_derived"].rule.version_for(IN_2024)
    assert rate(value, version.bands) == G
    cp = compile_expression(derived["cp_plan_rate_per_10k_derived"].expr)
    assert cp.evaluate({"children_on_cp_plan": 353, "population_under_18": 86_835}) == pytest.approx(40.65, abs=0.005)
    assert cp.evaluate({"children_on_cp_plan": 353, "population_under_18": 0}) is None


@pytest.mark.parametrize("code", sorted(TARGET_ONLY_2018))
def test_2018_target_only(catalog, code):
    target = TARGET_ONLY_2018[code]
    version = _by_code(catalog, "2018", code).rule.version_for(IN_2018)
    assert version.basis == "target_only"
    assert version.bands is not None and version.bands.red == []
    for value, expected in [(target, G), (target + 0.001, G), (100, G), (target - 0.001, A), (target - 0.01, A),
                            (0, A), (-5, A)]:
        assert rate(value, version.bands) == expected, value


@pytest.mark.parametrize("code", UNRATED_2018)
def test_2018_unrated(catalog, code):
    version = _by_code(catalog, "2018", code).rule.version_for(IN_2018)
    assert version.basis == "unrated"
    assert version.bands is None and version.ceilings is None


@pytest.mark.parametrize("code", sorted(EDGES_2018))
def test_2018_banded_basis(catalog, code):
    assert _by_code(catalog, "2018", code).rule.version_for(IN_2018).basis == "contract"


def test_2018_every_code_is_classified():
    assert set(EDGES_2018) | set(TARGET_ONLY_2018) | set(UNRATED_2018) == set(KEYS_2018)
    assert not set(EDGES_2018) & set(TARGET_ONLY_2018)
    assert not (set(EDGES_2018) | set(TARGET_ONLY_2018)) & set(UNRATED_2018)


@pytest.mark.parametrize(("suite", "code"), [("2024", c) for c in KEYS_2024] + [("2018", c) for c in KEYS_2018])
def test_rule_keys_units_and_polarity(catalog, suite, code):
    rule_id, measure, unit, polarity = (KEYS_2024 if suite == "2024" else KEYS_2018)[code]
    bound = _by_code(catalog, suite, code)
    assert bound.id == rule_id
    assert bound.rule.measure_key == measure
    assert (bound.rule.kind, bound.rule.unit, bound.rule.polarity) == ("kpi", unit, polarity)
    assert catalog.measures[measure].unit == unit


def test_suites_have_exactly_pi1_to_pi15(catalog):
    want = {f"PI{i}" for i in range(1, 16)}
    for suite in ("2024", "2018"):
        codes = [b.code for b in catalog.rules if b.suite == suite and b.code]
        assert sorted(codes) == sorted(want), suite


def test_contract_pack_rules_have_codes_except_derived(catalog):
    for b in catalog.rules:
        if b.pack.pack not in ("contract-2024", "contract-2018"):
            continue
        if b.id in DERIVED:
            assert b.rule.code is None, b.id
        else:
            assert b.rule.code, b.id


def test_every_rule_has_a_tag(catalog):
    for b in catalog.rules:
        assert b.rule.tags, b.id


def test_contract_tags_come_from_the_theme_list(catalog):
    for b in catalog.rules:
        if b.pack.pack in ("contract-2024", "contract-2018"):
            assert set(b.rule.tags) <= ALLOWED_TAGS, b.id


def test_pack_dates(catalog):
    packs = {p.pack: p for p in catalog.packs}
    p24, p18 = packs["contract-2024"], packs["contract-2018"]
    assert (p24.suite, p24.effective_from, p24.effective_to, p24.providers) == ("2024", dt.date(2024, 4, 1), None, [])
    assert (p18.suite, p18.effective_from, p18.effective_to, p18.providers) == (
        "2018", dt.date(2018, 4, 1), dt.date(2022, 3, 31), [])
    for r in p24.rules:
        assert [(v.effective_from, v.effective_to, v.basis) for v in r.versions] == [
            (dt.date(2024, 4, 1), None, "contract")], r.id
        assert r.version_for(dt.date(2024, 3, 31)) is None
        assert r.version_for(dt.date(2030, 1, 1)) is not None
        assert r.versions[0].source and r.versions[0].source.startswith(
            "Sandwell Children's Trust Annual Review 2024-25 (2025), section ")  # by title, never a file name
    for r in p18.rules:
        assert len(r.versions) == 1, r.id
        assert r.version_for(dt.date(2018, 4, 1)) is not None
        assert r.version_for(dt.date(2022, 3, 31)) is not None
        assert r.version_for(dt.date(2018, 3, 31)) is None
        assert r.version_for(dt.date(2022, 4, 1)) is None
        assert r.versions[0].source and r.versions[0].source.startswith(
            "Sandwell Children's Trust Contract Review April 2018 - March 2022 (2022), section iii")


def test_pi9_single_revised_version_with_notes(catalog):
    rule = _by_code(catalog, "2024", "PI9").rule
    assert len(rule.versions) == 1
    text = " ".join(rule.versions[0].notes + rule.notes)
    for fact in ("February 2025", "2025-04-01", "not stated", "62.0", "75.1", "16"):
        assert fact in text, fact


@pytest.mark.parametrize(("token", "period", "expected"), [
    ("PI1", "2024-05", "single_assessments_45wd"),
    ("PI1", "2024-04", "single_assessments_45wd"),
    ("pi1", "2031-12", "single_assessments_45wd"),
    ("PI4", "2019-05", "single_assessments_45wd"),
    ("PI4", "2024-05", "cp_plan_rate_per_10k"),
    ("PI1", "2019-05", "mash_referrals_24h"),
    ("PI1", "2018-04", "mash_referrals_24h"),
    ("PI1", "2022-03", "mash_referrals_24h"),
    ("PI2", "2019-05", "cp_plan_rate_per_10k"),
    ("PI2", "2024-05", "cin_visits_on_time"),
    ("PI10", "2019-05", "cin_visits_on_time"),
    ("PI13", "2019-05", "sw_vacancy_rate"),
    ("PI12", "2024-05", "sw_vacancy_rate"),
    ("PI14", "2019-05", "average_caseload"),
    ("PI1", "2023-01", None),
    ("PI1", "2022-04", None),
    ("PI1", "2024-03", None),
    ("PI1", "2018-03", None),
    ("PI16", "2024-05", None),
    ("single_assessments_45wd", "2019-05", "single_assessments_45wd"),
    ("single_assessments_45wd", "2023-01", "single_assessments_45wd"),
    ("mash_referrals_24h", "2025-01", "mash_referrals_24h"),
    ("long_term_placement_stability", "2010-01", "long_term_placement_stability"),
    ("population_under_18", "2024-05", "population_under_18"),
])
def test_codes_resolve_per_period(catalog, token, period, expected):
    info = catalog.resolve("kpi", token, period)
    assert (info.key if info else None) == expected


def test_derived_measures_are_not_reportable(catalog):
    assert catalog.resolve("kpi", "cwcf_rate_per_10k_derived", "2024-05") is None
    assert catalog.resolve("kpi", "cp_plan_rate_per_10k_derived", "2024-05") is None


def test_codes_in_force(catalog):
    assert catalog.codes_in_force(dt.date(2023, 1, 1)) == []
    assert len(catalog.codes_in_force(dt.date(2019, 5, 1))) == 15
    assert len(catalog.codes_in_force(dt.date(2024, 5, 1))) == 15


def test_packs_do_not_read_shared_at_run_time():
    for name in ("contract-2024.yaml", "contract-2018.yaml"):
        assert "/work/shared" not in (Path(SHIPPED_PACKS) / name).read_text(encoding="utf-8")
