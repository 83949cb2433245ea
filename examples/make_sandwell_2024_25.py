#!/usr/bin/env python3
"""Generate the example returns in alerts/examples/sandwell-2024-25/ (provider `sandwell`, FY 2024-25).

    .venv/bin/python examples/make_sandwell_2024_25.py          # check, then (re)write the files
    .venv/bin/python examples/make_sandwell_2024_25.py --check  # check, and fail if the files differ

Output is deterministic: same script, same bytes (the XLSX is rewritten with fixed zip and
document timestamps). Every figure the series must agree with is embedded below with the
source document it comes from; nothing here reads /work/shared at run time.

Sources (public reports, cited by file name):
  001_ffeb276e2373bf71.txt  Sandwell Children's Trust Annual Review 2024-25
                            section (b): KPI ranges, averages and months in each band;
                            section (f) 3.1.1: workforce table, workloads; section (j): bands
  000_b8fe27e046fc561a.txt  Council scrutiny report, March 2026 (finance at end of January 2026)

The monthly values between the published points are ILLUSTRATIVE: chosen to be smooth and to
reproduce every published min / max / year-end value, average, months-in-band count and the
10 green / 5 amber / 0 red position at 31 March 2025. `check()` asserts all of it before any
file is written.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import sys
import zipfile
from itertools import pairwise
from pathlib import Path

PROVIDER = "sandwell"
OUT = Path(__file__).resolve().parents[1] / "alerts" / "examples" / "sandwell-2024-25"  # ships in the wheel
PERIODS = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
YEAR_END = "2025-03"
SRC_AR = "001_ffeb276e2373bf71.txt"  # Annual Review 2024-25
SRC_SCRUTINY = "000_b8fe27e046fc561a.txt"  # scrutiny report, March 2026

# --------------------------------------------------------------------------------------------
# The 2024 contract suite: code, stable key, unit. In force from 1 April 2024
# (001_ffeb276e2373bf71.txt sections (b), (h), (j)).
# --------------------------------------------------------------------------------------------
SUITE = [
    ("PI1", "single_assessments_45wd", "percent"),
    ("PI2", "cin_visits_on_time", "percent"),
    ("PI3", "repeat_cp_plans_2yr", "percent"),
    ("PI4", "cp_plan_rate_per_10k", "rate_per_10000"),
    ("PI5", "cwd_assessment_updated_12m", "percent"),
    ("PI6", "permanence_plan_second_review", "percent"),
    ("PI7", "cwcf_rate_per_10k", "rate_per_10000"),
    ("PI8", "placement_moves_3plus", "percent"),
    ("PI9", "long_term_placement_stability", "percent"),
    ("PI10", "care_leaver_pathway_plan_updated", "percent"),
    ("PI11", "cp_plans_over_2yr", "percent"),
    ("PI12", "sw_vacancy_rate", "percent"),
    ("PI13", "supervision_8wk", "percent"),
    ("PI14", "cin_9m_senior_review", "percent"),
    ("PI15", "foster_placement_usage", "percent"),
]
KEY = {code: key for code, key, _ in SUITE}
UNIT = {code: unit for code, _, unit in SUITE}


def rate(code: str, v: float) -> str:
    """Local copy of the 2024 bands as the project's 2024 pack encodes them (001 section (j),
    with values in the source's gaps rated amber). Used only to check the series."""
    hi = {  # higher is better: (green if >= g, red if <= r, amber between)
        "PI1": (85, 70),
        "PI2": (73, 57),
        "PI5": (90, 80),
        "PI6": (95, 85),
        "PI10": (93, 83),
        "PI13": (80, 70),
        "PI14": (80, 70),
        "PI15": (92, 88),
    }
    lo = {  # lower is better: (green if <= g, red if >= r, amber between)
        "PI3": (15, 22),
        "PI4": (45, 55),
        "PI7": (94, 100),
        "PI8": (9, 12),
        "PI11": (3, 5),
    }
    if code in hi:
        g, r = hi[code]
        return "green" if v >= g else "red" if v <= r else "amber"
    if code in lo:
        g, r = lo[code]
        return "green" if v <= g else "red" if v >= r else "amber"
    if code == "PI9":  # two-sided: green 67..75, amber 62..<67 or >75, red < 62
        return "red" if v < 62 else "green" if 67 <= v <= 75 else "amber"
    if code == "PI12":  # green < 34, amber >= 34 and < 40, red >= 40
        return "green" if v < 34 else "amber" if v < 40 else "red"
    raise KeyError(code)


# --------------------------------------------------------------------------------------------
# Published facts the series must satisfy. Written out to published.json as well.
# min/max/year_end: {"value", "period"}; period None = the source gives no month (one is chosen
# in SERIES below). months_in_band: counts over the 12 reporting periods Apr 2024 - Mar 2025.
# --------------------------------------------------------------------------------------------
def _pt(value, period, **extra):
    return {"value": value, "period": period, **extra}


PUBLISHED: dict[str, dict] = {
    # 001 section (b) PI1: low Oct 2024, high Mar 2025, FY average; 1 above target, 10 in
    # tolerance, 1 in failure (the October low).
    "PI1": {
        "min": _pt(68.8, "2024-10"),
        "max": _pt(86.4, "2025-03"),
        "year_end": _pt(86.4, "2025-03"),
        "average": {"value": 78.1, "tolerance": 0.05},
        "months_in_band": {"green": 1, "amber": 10, "red": 1},
        "band_in_month": {"2024-10": "red"},
    },
    # 001 section (b) PI2: range with no months given; 6 above target, 6 in tolerance.
    "PI2": {
        "min": _pt(66.8, None),
        "max": _pt(79.7, None),
        "year_end": None,
        "months_in_band": {"green": 6, "amber": 6, "red": 0},
    },
    # 001 section (b) PI3: no values; 8 met target, 3 in tolerance, failure in November 2024.
    "PI3": {
        "min": None,
        "max": None,
        "year_end": None,
        "months_in_band": {"green": 8, "amber": 3, "red": 1},
        "band_in_month": {"2024-11": "red"},
    },
    # 001 section (b) PI4: 40.7 at 31 March 2025 (353 children); in tolerance Apr-Sep 2024,
    # at target for the last 6 periods; downward through the year, slight rise in March 2025.
    "PI4": {
        "min": None,
        "max": None,
        "year_end": _pt(40.7, "2025-03", children=353),
        "months_in_band": {"green": 6, "amber": 6, "red": 0},
        "months_in_band_by_range": [
            {"from": "2024-04", "to": "2024-09", "green": 0, "amber": 6, "red": 0},
            {"from": "2024-10", "to": "2025-03", "green": 6, "amber": 0, "red": 0},
        ],
    },
    # 001 section (b) PI5: low Apr 2024 (two decimals), high Aug 2024; 8 above target, 4 in tolerance.
    "PI5": {
        "min": _pt(80.39, "2024-04"),
        "max": _pt(94.8, "2024-08"),
        "year_end": None,
        "months_in_band": {"green": 8, "amber": 4, "red": 0},
    },
    # 001 section (b) PI6: low Apr 2024, high Mar 2025; 7 above target, 5 in tolerance.
    "PI6": {
        "min": _pt(93.2, "2024-04"),
        "max": _pt(98.1, "2025-03"),
        "year_end": _pt(98.1, "2025-03"),
        "months_in_band": {"green": 7, "amber": 5, "red": 0},
    },
    # 001 section (b) PI7: 94 at 31 March 2025 (816 children; also 94.0, and 93.9 in the SN
    # table). 816 / 86,835 under-18s x 10,000 = 93.97, used here. 10 in tolerance, 2 at target.
    "PI7": {
        "min": None,
        "max": None,
        "year_end": _pt(93.97, "2025-03", children=816, as_written=["94", "94.0", "93.9"]),
        "months_in_band": {"green": 2, "amber": 10, "red": 0},
    },
    # 001 section (b) PI8: low Nov 2024, high Jun 2024, 10.2 at 31 March 2025; in tolerance all year.
    "PI8": {
        "min": _pt(9.3, "2024-11"),
        "max": _pt(11.7, "2024-06"),
        "year_end": _pt(10.2, "2025-03"),
        "months_in_band": {"green": 0, "amber": 12, "red": 0},
    },
    # 001 section (b) PI9: low Jun 2024 (written '61%'), high Feb 2025, 63.8 at 31 March 2025;
    # 9 in tolerance, 3 in failure (against the bands revised in February 2025).
    "PI9": {
        "min": _pt(61.0, "2024-06"),
        "max": _pt(64.7, "2025-02"),
        "year_end": _pt(63.8, "2025-03"),
        "months_in_band": {"green": 0, "amber": 9, "red": 3},
    },
    # 001 section (b) PI10: low Sep 2024, high Nov 2024 (written '99%'); above target all 12 months.
    "PI10": {
        "min": _pt(96.3, "2024-09"),
        "max": _pt(99.0, "2024-11"),
        "year_end": None,
        "months_in_band": {"green": 12, "amber": 0, "red": 0},
    },
    # 001 section (b) PI11: range 2.4 to '5%' (months not given), 3.4 at 31 March 2025 (12
    # children, also section (f)); 3 above target, 8 in tolerance, 1 in failure.
    "PI11": {
        "min": _pt(2.4, None),
        "max": _pt(5.0, None, as_written="5%"),
        "year_end": _pt(3.4, "2025-03", children=12),
        "months_in_band": {"green": 3, "amber": 8, "red": 1},
    },
    # 001 section (b) PI12: range 21.1 to 27.73, within target all year; section (f) 3.1.1:
    # 23.9 'now' (142.24 permanent of 187 = the Mar-25 column). Months from the workforce
    # table: (187 - permanent incl. ASYE) / 187 gives 27.73 in Jun-24 and 21.1 in Sep-24.
    "PI12": {
        "min": _pt(21.1, "2024-09"),
        "max": _pt(27.73, "2024-06"),
        "year_end": _pt(23.9, "2025-03"),
        "months_in_band": {"green": 12, "amber": 0, "red": 0},
    },
    # 001 section (b) PI13: 'primarily' ranged 65.46 to 75.46 (treated here as the true range);
    # 7 in tolerance, 5 in failure. No KPI in failure at 31 March 2025, so March is amber.
    "PI13": {
        "min": _pt(65.46, None),
        "max": _pt(75.46, None),
        "year_end": None,
        "year_end_band": "amber",
        "months_in_band": {"green": 0, "amber": 7, "red": 5},
    },
    # 001 section (b) PI14: low 32.7 dated 'April 2025' (outside the year; read as April 2024),
    # high Sep 2024; 5 above target, 5 in tolerance, 2 in failure.
    "PI14": {
        "min": _pt(32.7, "2024-04", as_written="April 2025"),
        "max": _pt(87.5, "2024-09"),
        "year_end": None,
        "months_in_band": {"green": 5, "amber": 5, "red": 2},
    },
    # 001 section (b) PI15: no values; 10 above target, 2 in tolerance.
    "PI15": {"min": None, "max": None, "year_end": None, "months_in_band": {"green": 10, "amber": 2, "red": 0}},
}
# 001 section (b) opening: at 31 March 2025, 10 KPIs met target, 5 in tolerance, none in failure.
YEAR_END_SNAPSHOT = {"period": YEAR_END, "green": 10, "amber": 5, "red": 0}

NOTES = {
    "PI7": (
        "Year-end written 94 / 94.0 (and 93.9 in the SN table); 816/86835 = 93.97. "
        "93.97 and 94.0 are both green (<= 94)."
    ),
    "PI9": (
        "Months counted by the source against the bands revised in February 2025; "
        "the pack's 2024 bands are those bands."
    ),
    "PI11": "Max written '5%'; 5.0 is red (>= 5), matching the single month in failure.",
    "PI12": (
        "Monthly values are (187 - permanent SW FTE incl. ASYE) / 187 from the 001 section (f) workforce table; "
        "Jun-24, Sep-24 and Mar-25 written as the source states them (27.73, 21.1, 23.9)."
    ),
    "PI13": "Source says performance 'primarily ranged' 65.46-75.46; the example treats these as the true min and max.",
    "PI14": "Min dated 'April 2025' in the source, outside FY2024-25; read as April 2024.",
}

# --------------------------------------------------------------------------------------------
# The monthly series, Apr 2024 .. Mar 2025, as the strings written to the returns (their
# decimals are the precision shown). The published points are those in PUBLISHED; the rest
# is illustrative.
# --------------------------------------------------------------------------------------------
UNDER_18 = 86835  # 001: under-18 population used for the 2024-25 rates


def _pct(num: int, den: int, dp: int = 1) -> str:
    return f"{100 * num / den:.{dp}f}"


def _per10k(n: int, dp: int) -> str:
    return f"{10000 * n / UNDER_18:.{dp}f}"


# Illustrative monthly children on a CP plan: 473 at Mar-24 and 353 at Mar-25 are published
# (001 section (f) children table); downward through the year, slight rise in March 2025.
CP_CHILDREN = [462, 448, 437, 425, 413, 400, 386, 377, 368, 359, 349, 353]
# Illustrative children on a CP plan for 2+ years: 12 at Mar-25 is published (001 section (f)).
CP_OVER_2YR = [18, 19, 20, 21, 20, 20, 15, 11, 9, 10, 11, 12]
# Illustrative children we care for: 808 at Mar-24 and 816 at Mar-25 are published (001).
CWCF_CHILDREN = [812, 819, 824, 829, 833, 836, 834, 831, 828, 825, 821, 816]
# Illustrative repeat CP plans: (children starting a plan with a previous plan in 2 years,
# children starting a plan) per month: a small cohort, so the rate jumps about (001 (b)).
REPEAT_CP = [(3, 31), (4, 35), (6, 34), (3, 29), (4, 33), (2, 27), (5, 36), (8, 32), (3, 26), (4, 30), (6, 37), (5, 28)]
# 001 section (f) workforce table, permanent case-holding SW FTE incl. ASYE, establishment 187.
PERMANENT_SW = [139.24, 137.64, 135.14, 139.14, 137.9, 147.53, 146.53, 146.73, 145.13, 141.33, 141.33, 142.24]


def _vacancy() -> list[str]:
    out = [f"{100 * (187 - p) / 187:.2f}" for p in PERMANENT_SW]
    # Jun-24, Sep-24 and Mar-25 as the source writes them (001 section (b) and (f) 3.1.1).
    for period, written in (("2024-06", "27.73"), ("2024-09", "21.1"), ("2025-03", "23.9")):
        i = PERIODS.index(period)
        assert abs(float(out[i]) - float(written)) < 0.05, (period, out[i], written)
        out[i] = written
    return out


SERIES: dict[str, list[str]] = {
    #        Apr-24   May     Jun     Jul     Aug     Sep     Oct     Nov     Dec     Jan-25  Feb     Mar
    # PI1: dips to the October failure month, recovers to the March high; mean 78.1.
    "PI1": ["80.2", "81.6", "80.3", "77.3", "75.1", "71.9", "68.8", "73.5", "77.8", "80.9", "83.4", "86.4"],
    # PI2: in tolerance Apr-Sep (low in June), at target Oct-Mar (high in February).
    "PI2": ["68.9", "67.5", "66.8", "69.4", "71.2", "72.4", "74.1", "75.6", "73.8", "76.9", "79.7", "78.2"],
    "PI3": [_pct(r, n) for r, n in REPEAT_CP],
    "PI4": [_per10k(n, 1) for n in CP_CHILDREN],
    # PI5: two decimals as the source's low point; low April, high August.
    "PI5": ["80.39", "85.17", "88.62", "91.34", "94.80", "93.06", "91.72", "90.41", "89.23", "90.87", "92.45", "93.58"],
    "PI6": ["93.2", "93.8", "94.4", "95.3", "94.6", "95.6", "96.1", "94.7", "95.8", "96.5", "97.2", "98.1"],
    "PI7": [_per10k(n, 2) for n in CWCF_CHILDREN],
    # PI8: in tolerance all year, high in June, low in November.
    "PI8": ["11.2", "11.4", "11.7", "11.3", "10.9", "10.4", "9.8", "9.3", "9.6", "9.9", "10.1", "10.2"],
    # PI9: upward trajectory from the June low; three months below 62.
    "PI9": ["61.8", "61.5", "61.0", "62.3", "62.6", "62.4", "63.1", "63.5", "63.3", "64.1", "64.7", "63.8"],
    "PI10": ["97.6", "97.9", "97.2", "96.8", "96.5", "96.3", "98.1", "99.0", "98.6", "98.2", "97.8", "98.4"],
    "PI11": [_pct(k, n) for k, n in zip(CP_OVER_2YR, CP_CHILDREN, strict=True)],
    "PI12": _vacancy(),
    # PI13: two decimals as the source; summer dip into failure (Jun-Oct), amber by March.
    "PI13": [
        "71.83",
        "70.62",
        "68.94",
        "66.71",
        "65.46",
        "67.38",
        "69.52",
        "71.27",
        "72.15",
        "73.88",
        "75.46",
        "74.12",
    ],
    # PI14: April low, September high; Mar-25 = 93 of the 111 CiN at 9+ months (111 from 001 (f)).
    "PI14": ["32.7", "64.3", "74.6", "81.2", "84.9", "87.5", "78.4", "76.1", "73.5", "79.2", "82.6", _pct(93, 111)],
    # PI15: in tolerance in July and September, when children with trust carers dipped (001 (f)).
    "PI15": ["94.1", "93.6", "92.8", "90.8", "92.6", "89.9", "93.3", "94.0", "93.7", "94.4", "93.9", "92.9"],
}


# --------------------------------------------------------------------------------------------
# Caseload return, 31 March 2025 (illustrative workers; published: the trust-wide average).
# --------------------------------------------------------------------------------------------
# 001 section (f) 3.1.1: planning averages 22 (A&I), 15 (Court & CP), 15 (CWCF), ASYE 20% less;
# personal advisers for care leavers about 21. Pack: amber up to 120% of the ceiling, red above.
CEILING = {"assessment_intervention": 22, "court_child_protection": 15, "children_we_care_for": 15, "care_leavers": 21}
ASYE_FACTOR, AMBER_FACTOR = 0.8, 1.2
# 001 section (f) 3.1.1 Workloads: trust average 17.75 children per social worker at 31 March 2025.
TRUST_MEAN_CASELOAD = 17.75
# 001 section (f) 3.1.1: high workloads mainly in the Tipton & Rowley and Wednesbury & West
# Bromwich localities, and hard-to-fill locality Court & CP posts. Oldbury (named in
# 000_b8fe27e046fc561a.txt, an Assessment & Intervention team) is the contrasting locality.
HOTSPOTS = ("tipton-rowley-", "wednesbury-west-brom-")
# (team, service, [(caseload, asye), ...]) - illustrative.
# Caseloads are listed as "N" (qualified) or "Na" (ASYE).
TEAMS = [
    ("tipton-rowley-ai-1", "assessment_intervention", "25 24 27 23 22 18a"),
    ("tipton-rowley-cp-1", "court_child_protection", "16 15 14 15 11a"),
    ("wednesbury-west-brom-ai-1", "assessment_intervention", "23 21 22 20 16a"),
    ("wednesbury-west-brom-cp-1", "court_child_protection", "17 16 19 15 16 12a"),
    ("oldbury-ai-1", "assessment_intervention", "21 20 22 19 15a"),
    ("cwcf-1", "children_we_care_for", "15 15 14 14 12a"),
    ("cwcf-2", "children_we_care_for", "15 13 14 12"),
    ("care-leavers-1", "care_leavers", "21 21 20 20"),
]


def caseload_rows() -> list[dict]:
    rows, n = [], 0
    for team, service, workers in TEAMS:
        for token in workers.split():
            caseload, asye = int(token.rstrip("a")), token.endswith("a")
            n += 1
            rows.append({"team": team, "service": service, "worker": f"SW-{n:04d}", "asye": asye, "caseload": caseload})
    return rows


def caseload_band(value: float, ceiling: float) -> str:
    return "green" if value <= ceiling else "amber" if value <= AMBER_FACTOR * ceiling else "red"


def caseload_summary(rows: list[dict]) -> dict:
    workers = {}
    for r in rows:
        ceiling = CEILING[r["service"]] * (ASYE_FACTOR if r["asye"] else 1)
        workers[r["worker"]] = (r, caseload_band(r["caseload"], ceiling))
    teams = {}
    for team, service, _ in TEAMS:
        loads = [r["caseload"] for r in rows if r["team"] == team]
        avg = sum(loads) / len(loads)
        teams[team] = (service, avg, caseload_band(avg, CEILING[service]))
    return {"mean": sum(r["caseload"] for r in rows) / len(rows), "workers": workers, "teams": teams}


# --------------------------------------------------------------------------------------------
# Finance return, January 2026 (published; 000_b8fe27e046fc561a.txt paras 5.1-5.2 and the
# workforce/HR implications section). Mixed money styles on purpose.
# --------------------------------------------------------------------------------------------
FINANCE_PERIOD = "2026-01"
FINANCE = {  # measure: (value in £, as written in the return)
    "contract_sum": (93_900_000, "£93.9m"),  # 2025/26 contract sum
    "other_income": (11_300_000, "£11.3m"),  # grants and partner contributions (budgeted)
    "ytd_budget": (94_080_000, "£94,080,000"),  # YTD actual 96.72m less YTD overspend 2.64m
    "ytd_actual": (96_720_000, "96,720,000"),  # YTD expenditure to end of January 2026
    "forecast_outturn": (115_390_000, "115390000"),  # full-year forecast expenditure
}
FINANCE_YTD_OVERSPEND = 2_640_000  # 000 para 5.2


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def check() -> None:
    assert len(PERIODS) == 12 and PERIODS[0] == "2024-04" and PERIODS[-1] == YEAR_END
    assert set(SERIES) == set(KEY) == set(PUBLISHED)
    year_end_bands = {"green": 0, "amber": 0, "red": 0}
    for code, _key, _unit in SUITE:
        values = [float(s) for s in SERIES[code]]
        assert len(values) == 12, code
        bands = [rate(code, v) for v in values]
        pub = PUBLISHED[code]
        counts = {b: bands.count(b) for b in ("green", "amber", "red")}
        assert counts == pub["months_in_band"], (code, counts, pub["months_in_band"])
        for stat, fn in (("min", min), ("max", max)):
            p = pub[stat]
            if p is None:
                continue
            assert fn(values) == p["value"], (code, stat, fn(values), p["value"])
            if p["period"] is not None:
                assert values[PERIODS.index(p["period"])] == p["value"], (code, stat, p)
        if pub["year_end"] is not None:
            assert pub["year_end"]["period"] == YEAR_END
            assert values[-1] == pub["year_end"]["value"], (code, values[-1], pub["year_end"])
        if "year_end_band" in pub:
            assert bands[-1] == pub["year_end_band"], (code, bands[-1])
        if "average" in pub:
            mean = sum(values) / 12
            assert abs(mean - pub["average"]["value"]) <= pub["average"]["tolerance"], (code, mean)
        for period, band in pub.get("band_in_month", {}).items():
            assert bands[PERIODS.index(period)] == band, (code, period, bands)
        for rng in pub.get("months_in_band_by_range", []):
            sub = bands[PERIODS.index(rng["from"]) : PERIODS.index(rng["to"]) + 1]
            got = {b: sub.count(b) for b in ("green", "amber", "red")}
            assert got == {k: rng[k] for k in ("green", "amber", "red")}, (code, rng)
        year_end_bands[bands[-1]] += 1
    assert year_end_bands == {k: YEAR_END_SNAPSHOT[k] for k in ("green", "amber", "red")}, year_end_bands

    # Point checks tying derived series to the published counts.
    assert SERIES["PI4"][-1] == "40.7" and CP_CHILDREN[-1] == 353
    assert SERIES["PI7"][-1] == "93.97" and CWCF_CHILDREN[-1] == 816
    assert SERIES["PI11"][-1] == "3.4" and CP_OVER_2YR[-1] == 12
    # PI4: downward through the year, slight increase in March 2025 (001 section (b)).
    assert all(a > b for a, b in pairwise(CP_CHILDREN[:-1])) and CP_CHILDREN[-1] > CP_CHILDREN[-2]

    # Caseloads.
    rows = caseload_rows()
    s = caseload_summary(rows)
    assert s["mean"] == TRUST_MEAN_CASELOAD, s["mean"]
    assert {r["service"] for r in rows} == set(CEILING) and any(r["asye"] for r in rows)
    red = [w for w, (r, b) in s["workers"].items() if b == "red"]
    over = [r for r, b in s["workers"].values() if b != "green"]
    assert red, "need at least one red worker"
    assert over and all(r["team"].startswith(HOTSPOTS) for r in over), "over-ceiling workers only in hotspots"
    amber_teams = [t for t, (_, _, b) in s["teams"].items() if b == "amber"]
    assert amber_teams and all(t.startswith(HOTSPOTS) for t, (_, _, b) in s["teams"].items() if b != "green")

    # Finance.
    v = {k: val for k, (val, _) in FINANCE.items()}
    assert v["ytd_actual"] - v["ytd_budget"] == FINANCE_YTD_OVERSPEND
    for measure, (value, written) in FINANCE.items():
        assert parse_money(written) == value, (measure, written)


def parse_money(text: str) -> int:
    """Only to check the written money strings say what we mean."""
    t = text.replace("£", "").replace(",", "").strip()
    mult = 1_000_000 if t.endswith("m") else 1
    return round(float(t.rstrip("m")) * mult)


# --------------------------------------------------------------------------------------------
# Writers: every output is built as bytes first.
# --------------------------------------------------------------------------------------------
# How each monthly KPI return is written: (format, indicator style, period style, % signs).
KPI_FILES = {
    "2024-04": ("csv", "code", "iso", False),
    "2024-05": ("csv", "key", "iso", False),
    "2024-06": ("xlsx", "key", "iso", False),
    "2024-07": ("csv", "code", "iso", False),
    "2024-08": ("csv", "key", "iso", False),
    "2024-09": ("json", "code", "iso", False),
    "2024-10": ("csv", "code", "iso", False),
    "2024-11": ("csv", "key", "iso", False),
    "2024-12": ("csv", "code", "iso", False),
    "2025-01": ("csv", "key", "mon-yy", True),
    "2025-02": ("csv", "code", "iso", False),
    "2025-03": ("csv", "key", "iso", False),
}
FIXED_TIME = dt.datetime(2025, 4, 30, 9, 0, 0)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _mon_yy(period: str) -> str:
    return dt.date.fromisoformat(period + "-01").strftime("%b-%y")  # 2025-01 -> Jan-25


def kpi_rows(period: str, style: str) -> list[tuple[str, str, str]]:
    i = PERIODS.index(period)
    return [(code if style == "code" else key, SERIES[code][i], unit) for code, key, unit in SUITE]


def _xlsx(header: list[str], rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "KPI return"
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.properties.creator = "kpi-alerts examples"
    wb.properties.created = FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    # Re-pack with fixed timestamps so the bytes do not change between runs.
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                pattern = rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*"
                data = re.sub(pattern, lambda m: m.group(1) + stamp.encode(), data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    return out.getvalue()


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    header = ["provider", "period", "indicator", "value"]
    for period, (fmt, style, pstyle, pct) in KPI_FILES.items():
        rows = kpi_rows(period, style)
        name = f"kpi-{period}.{fmt}"
        if fmt == "csv":
            p = _mon_yy(period) if pstyle == "mon-yy" else period
            body = [[PROVIDER, p, ind, v + ("%" if pct and unit == "percent" else "")] for ind, v, unit in rows]
            files[name] = _csv(header, body)
        elif fmt == "json":
            data = [{"provider": PROVIDER, "period": period, "indicator": ind, "value": float(v)} for ind, v, _ in rows]
            files[name] = (json.dumps(data, indent=2) + "\n").encode("utf-8")
        else:
            files[name] = _xlsx(header, [[PROVIDER, period, ind, float(v)] for ind, v, _ in rows])

    files[f"finance-{FINANCE_PERIOD}.csv"] = _csv(
        ["provider", "period", "measure", "value"], [[PROVIDER, FINANCE_PERIOD, m, w] for m, (_, w) in FINANCE.items()]
    )
    files[f"caseload-{YEAR_END}.csv"] = _csv(
        ["provider", "period", "team", "service", "worker", "asye", "caseload"],
        [
            [PROVIDER, YEAR_END, r["team"], r["service"], r["worker"], str(r["asye"]).lower(), str(r["caseload"])]
            for r in caseload_rows()
        ],
    )
    files["published.json"] = (json.dumps(published_record(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return files


def published_record() -> dict:
    kpis = {}
    for code, key, unit in SUITE:
        pub = PUBLISHED[code]
        entry = {"key": key, "unit": unit}
        for k in (
            "min",
            "max",
            "year_end",
            "year_end_band",
            "average",
            "months_in_band",
            "months_in_band_by_range",
            "band_in_month",
        ):
            if k in pub:
                entry[k] = pub[k]
        entry["source"] = f"{SRC_AR} section (b)" + (", section (f) 3.1.1 workforce table" if code == "PI12" else "")
        if code in NOTES:
            entry["note"] = NOTES[code]
        kpis[code] = entry
    s = caseload_summary(caseload_rows())
    return {
        "about": (
            "Published facts the example KPI series for provider sandwell, FY 2024-25, must satisfy. "
            "Generated by examples/make_sandwell_2024_25.py. "
            "min/max/year_end period null = the source gives no month."
        ),
        "provider": PROVIDER,
        "suite": "2024",
        "periods": PERIODS,
        "kpi_returns": {p: f"kpi-{p}.{fmt}" for p, (fmt, *_rest) in KPI_FILES.items()},
        "year_end_snapshot": {**YEAR_END_SNAPSHOT, "source": f"{SRC_AR} section (b)"},
        "kpis": kpis,
        "finance": {
            "file": f"finance-{FINANCE_PERIOD}.csv",
            "period": FINANCE_PERIOD,
            "values": {k: val for k, (val, _) in FINANCE.items()},
            "ytd_overspend": FINANCE_YTD_OVERSPEND,
            "source": f"{SRC_SCRUTINY} paras 5.1-5.2 and the contract sum statement",
            "note": "ytd_budget is derived: ytd_actual less the stated ytd overspend.",
        },
        "caseload": {
            "file": f"caseload-{YEAR_END}.csv",
            "period": YEAR_END,
            "trust_mean": TRUST_MEAN_CASELOAD,
            "source": f"{SRC_AR} section (f) 3.1.1",
            "note": "Workers are illustrative; only the trust mean and the hotspot localities are published.",
            "illustrative_expectations": {
                "workers": len(s["workers"]),
                "red_workers": sorted(w for w, (_, b) in s["workers"].items() if b == "red"),
                "amber_teams": sorted(t for t, (_, _, b) in s["teams"].items() if b == "amber"),
                "red_teams": sorted(t for t, (_, _, b) in s["teams"].items() if b == "red"),
            },
        },
        "illustrative_series": {
            "note": "The exact values written to the KPI returns (illustrative between the published points).",
            "values": {code: {p: float(v) for p, v in zip(PERIODS, SERIES[code], strict=True)} for code, _, _ in SUITE},
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify the files on disk instead of writing them")
    args = ap.parse_args(argv)
    check()
    files = build()
    if args.check:
        stale = [n for n, b in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != b]
        for n in stale:
            print(f"out of date: {OUT / n}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(files)} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
