"""`rules check`: each problem reported with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rules.check import check_packs
from tests.packs import demo_rule

GOOD_RULE = "\n" + demo_rule("    tags: [demo]\n")


def write(tmp_path: Path, body: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def problems(path: Path) -> list[str]:
    return [str(p) for p in check_packs(path)[1]]


def test_clean_pack(tmp_path):
    assert problems(write(tmp_path, "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE)) == []


def test_gap_reported_at_the_bands_line(tmp_path):
    body = "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE.replace("{gt: 70, lt: 85}", "{gt: 70.01, lt: 84.99}")
    path = write(tmp_path, body)
    assert problems(path) == [
        f"{path}:13: rule demo_kpi: bands gap (70, 70.01]: no band claims these values",
        f"{path}:13: rule demo_kpi: bands gap [84.99, 85): no band claims these values",
    ]


def test_overlap_and_polarity(tmp_path):
    body = "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE.replace("{gt: 70, lt: 85}", "{gte: 70, lt: 85}")
    out = problems(write(tmp_path, body))
    assert len(out) == 1 and "overlap" in out[0] and ":13:" in out[0]
    flipped = "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE.replace("higher_is_better", "lower_is_better")
    assert problems(write(tmp_path, flipped))[0].endswith("bands do not follow polarity lower_is_better")


def test_schema_error_names_the_line(tmp_path):
    body = "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE.replace("unit: percent", "unit: furlongs")
    path = write(tmp_path, body)
    out = problems(path)
    assert len(out) == 1
    assert out[0].startswith(f"{path}:7: rules.0.unit: Input should be")


def test_overlapping_versions(tmp_path):
    body = "pack: demo\ntitle: Demo\nrules:" + GOOD_RULE + textwrap.indent(textwrap.dedent("""\
        - effective_from: 2025-01-01
          bands:
            green: [{gte: 80}]
            amber: [{gt: 70, lt: 80}]
            red: [{lte: 70}]
        """), "      ")
    path = write(tmp_path, body)
    assert problems(path) == [f"{path}:16: rule demo_kpi: version from 2025-01-01 overlaps the version from "
                              f"2024-04-01 (to open end)"]


def test_unknown_measure_in_expression(tmp_path):
    body = """\
        pack: demo
        title: Demo
        inputs:
          - {key: population_under_18, name: Population, kind: kpi, unit: count}
        derived:
          - key: rate
            name: Rate
            kind: kpi
            unit: rate_per_10000
            expr: children_on_plan / population_under_18 * 10000
        """
    path = write(tmp_path, body)
    assert problems(path) == [f"{path}:10: derived rate: unknown measure(s) children_on_plan in expression"]


def test_forbidden_expression(tmp_path):
    body = """\
        pack: demo
        title: Demo
        derived:
          - {key: evil, name: Evil, kind: kpi, unit: number, expr: "__import__('os').system('id')"}
        """
    out = problems(write(tmp_path, body))
    assert len(out) == 1 and "the only calls allowed are min(...), max(...) and abs(...)" in out[0]


def test_unsafe_yaml_tag_is_refused(tmp_path):
    sentinel = tmp_path / "sentinel"
    path = write(tmp_path, f"pack: !!python/object/apply:os.system ['touch {sentinel}']\ntitle: x\n")
    out = problems(path)
    assert len(out) == 1 and out[0].startswith(f"{path}:1: invalid YAML")
    assert not sentinel.exists()


def test_invalid_yaml_line(tmp_path):
    path = write(tmp_path, "pack: demo\ntitle: Demo\nrules:\n  - id: [unclosed\n")
    out = problems(path)
    assert len(out) == 1 and out[0].startswith(f"{path}:5: invalid YAML")


def test_duplicate_rule_ids_across_packs(tmp_path):
    write(tmp_path, "pack: one\ntitle: One\nrules:" + GOOD_RULE, "a.yaml")
    write(tmp_path, "pack: two\ntitle: Two\nrules:" + GOOD_RULE, "b.yaml")
    out = problems(tmp_path)
    assert len(out) == 1 and "rule id 'demo_kpi' is already used at" in out[0] and "b.yaml:4:" in out[0]


def test_empty_folder(tmp_path):
    assert problems(tmp_path) == [f"{tmp_path}:1: no rule packs (*.yaml) found"]


def test_an_amount_names_money_measures_of_the_rule_s_kind(tmp_path):
    """A rule rated as a percentage of an amount (finance) names gbp measures its pack declares."""
    body = textwrap.dedent("""\
        pack: money
        title: Money
        inputs:
          - {key: spend, name: Spend, kind: finance, unit: gbp}
          - {key: budget, name: Budget, kind: finance, unit: gbp}
          - {key: staff, name: Staff, kind: finance, unit: count}
        rules:
          - id: spend_pct
            name: Spend against budget
            kind: finance
            unit: number
            polarity: lower_is_better
            amount: {measure: spend, of: budget, also: [staff, nowhere]}
            versions:
              - effective_from: 2024-04-01
                basis: pack
                bands:
                  green: [{lte: 0}]
                  red: [{gt: 0}]
        """)
    path = write(tmp_path, body)
    assert problems(path) == [
        f"{path}:13: rule spend_pct: amount names 'staff', which is finance/count; expected a finance/gbp measure",
        f"{path}:13: rule spend_pct: amount names 'nowhere', which is unknown; expected a finance/gbp measure",
    ]
    assert problems(write(tmp_path, body.replace(", also: [staff, nowhere]", ""))) == []


def test_a_source_cites_a_document_by_title_never_a_file_name(tmp_path):
    """Leaders read a rule's source on the indicator page: a file name means nothing to them."""
    titled = "pack: demo\ntitle: Demo\nsource: Annual Review 2024-25 (2025)\nrules:" + GOOD_RULE
    assert problems(write(tmp_path, titled)) == []
    body = "pack: demo\ntitle: Demo\nsource: 001_ffeb276e2373bf71.txt\nrules:" + GOOD_RULE.replace(
        "    versions:\n", "    comparators: [{name: england_average, value: 80, source: Review.PDF}]\n    versions:\n")
    path = write(tmp_path, body)
    assert problems(path) == [
        f"{path}:3: pack: source names a file (001_ffeb276e2373bf71.txt): cite the document by its title and date, "
        "as leaders know it",
        f"{path}:11: rule demo_kpi: comparator england_average: source names a file (Review.PDF): cite the document "
        "by its title and date, as leaders know it"]
