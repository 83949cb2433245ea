"""`kpi-alerts rules check`: every problem in a set of packs, with file and line.

The same checks guard start-up: `rules.loader.load_catalog` builds a catalogue only from
packs that pass them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from rules.bands import coverage_problems, is_monotone
from rules.expressions import ExpressionError, compile_expression
from rules.pack_file import LoadedPack, PackProblem, pack_files, parse_pack_file


def check_packs(path: Path) -> tuple[list[LoadedPack], list[PackProblem]]:
    files = pack_files(path)
    if not files:
        return [], [PackProblem(str(path), 1, "no rule packs (*.yaml) found")]
    loaded: list[LoadedPack] = []
    problems: list[PackProblem] = []
    for f in files:
        lp, errs = parse_pack_file(f)
        problems += errs
        if lp is not None:
            loaded.append(lp)
    for lp in loaded:
        problems += _check_pack(lp) + _check_sources(lp)
    problems += _check_across(loaded)
    return loaded, problems


def _check_pack(lp: LoadedPack) -> list[PackProblem]:
    pack, name = lp.pack, str(lp.path)
    out: list[PackProblem] = []
    for i, rule in enumerate(pack.rules):
        out += _check_calendar_rule(lp, i)
        for j, version in enumerate(rule.versions):
            if version.bands is not None:
                for p in coverage_problems(version.bands):
                    out.append(PackProblem(name, lp.line_of("rules", i, "versions", j, "bands"),
                                           f"rule {rule.id}: bands {p.message}"))
                one_sided_ok = rule.polarity == "two_sided" or coverage_problems(version.bands) or is_monotone(
                    version.bands, rule.polarity == "higher_is_better")
                if not one_sided_ok:
                    out.append(PackProblem(name, lp.line_of("rules", i, "versions", j, "bands"),
                                           f"rule {rule.id}: bands do not follow polarity {rule.polarity}"))
            if version.ceilings is not None and rule.kind != "caseload":
                out.append(PackProblem(name, lp.line_of("rules", i, "versions", j, "ceilings"),
                                       f"rule {rule.id}: ceilings are for caseload rules only"))
        ordered = sorted(enumerate(rule.versions), key=lambda iv: iv[1].effective_from)
        for (_, a), (j, b) in zip(ordered, ordered[1:], strict=False):
            if a.effective_to is None or b.effective_from <= a.effective_to:
                out.append(PackProblem(name, lp.line_of("rules", i, "versions", j, "effective_from"),
                                       f"rule {rule.id}: version from {b.effective_from} overlaps the version "
                                       f"from {a.effective_from} (to {a.effective_to or 'open end'})"))
    return out


# A source is shown to leaders (the indicator page): it names a document by its title and date,
# never by a file name such as 001_ffeb276e2373bf71.txt.
FILE_NAME = re.compile(r"[\w.-]+\.(?:txt|pdf|docx?|xlsx?|csv|html?|odt)\b", re.IGNORECASE)


def _check_sources(lp: LoadedPack) -> list[PackProblem]:
    pack = lp.pack
    cited: list[tuple[str | None, tuple[str | int, ...], str]] = [(pack.source, ("source",), "pack")]
    for i, rule in enumerate(pack.rules):
        cited += [(v.source, ("rules", i, "versions", j, "source"), f"rule {rule.id}")
                  for j, v in enumerate(rule.versions)]
        cited += [(c.source, ("rules", i, "comparators", k, "source"), f"rule {rule.id}: comparator {c.name}")
                  for k, c in enumerate(rule.comparators)]
    return [PackProblem(str(lp.path), lp.line_of(*loc), f"{what}: source names a file ({found[0]}): cite the "
                        "document by its title and date, as leaders know it")
            for text, loc, what in cited if text and (found := FILE_NAME.search(text))]


CALENDAR_PREFIX = "return_overdue_"


def _check_calendar_rule(lp: LoadedPack, i: int) -> list[PackProblem]:
    """The expected-returns calendar's rules are `return_overdue_<kind>`, one per kind, and
    nothing a return carries: no code, plausible range or amount, the provider as subject."""
    rule, name, line = lp.pack.rules[i], str(lp.path), lp.line_of("rules", i, "id")
    if rule.rated_by != "calendar":
        if rule.id.startswith(CALENDAR_PREFIX):
            return [PackProblem(name, line, f"rule {rule.id}: ids starting {CALENDAR_PREFIX} are the expected-returns "
                                            "calendar's: add `rated_by: calendar`, or rename it")]
        return []
    out = []
    if rule.id != f"{CALENDAR_PREFIX}{rule.kind}":
        out.append(PackProblem(name, line, f"rule {rule.id}: a calendar rule is named {CALENDAR_PREFIX}{rule.kind} "
                                           f"(after its kind, {rule.kind})"))
    extra = [k for k in ("code", "plausible", "amount") if getattr(rule, k) is not None]
    if rule.scope != "provider":
        extra.append("scope")
    if extra:
        out.append(PackProblem(name, line, f"rule {rule.id}: a calendar rule has no {', '.join(extra)} "
                                           "(it rates the returns missing, per provider)"))
    return out


def _check_across(loaded: list[LoadedPack]) -> list[PackProblem]:
    out: list[PackProblem] = []
    # With calendar rules in the set, every kind a pack expects needs one (a pack checked alone,
    # without rules/packs/returns.yaml, only shows the calendar: nothing opens an alert).
    calendar = {r.kind for lp in loaded for r in lp.pack.rules if r.rated_by == "calendar"}
    for lp in loaded if calendar else ():
        for kind in sorted((lp.pack.settings.returns or {}).keys() - calendar):
            out.append(PackProblem(str(lp.path), lp.line_of("settings", "returns", kind),
                                   f"settings.returns.{kind}: no rule {CALENDAR_PREFIX}{kind} (rated_by: calendar) "
                                   "for a missing return to open"))
    rule_ids: dict[str, str] = {}
    measure_kind: dict[str, tuple[str, str]] = {}
    codes: dict[tuple[str, str], str] = {}
    known: dict[str, set[str]] = defaultdict(set)  # kind -> measure keys
    for lp in loaded:
        p = lp.pack
        for i, rule in enumerate(p.rules):
            where = f"{lp.path}:{lp.line_of('rules', i, 'id')}"
            if rule.id in rule_ids:
                out.append(PackProblem(str(lp.path), lp.line_of("rules", i, "id"),
                                       f"rule id {rule.id!r} is already used at {rule_ids[rule.id]}"))
            rule_ids.setdefault(rule.id, where)
            if rule.code and p.suite:
                key = (p.suite, rule.code.upper())
                if key in codes:
                    out.append(PackProblem(str(lp.path), lp.line_of("rules", i, "code"),
                                           f"code {rule.code} is already used in suite {p.suite} at {codes[key]}"))
                codes.setdefault(key, where)
        for section, items in (("inputs", p.inputs), ("derived", p.derived), ("rules", p.rules)):
            for i, item in enumerate(items):
                key = getattr(item, "key", None) or item.measure_key
                sig = (item.kind, item.unit)
                if key in measure_kind and measure_kind[key] != sig:
                    out.append(PackProblem(str(lp.path), lp.line_of(section, i),
                                           f"measure {key!r} is declared as {sig[0]}/{sig[1]} here but "
                                           f"{measure_kind[key][0]}/{measure_kind[key][1]} elsewhere"))
                measure_kind.setdefault(key, sig)
                known[item.kind].add(key)
    for lp in loaded:
        p = lp.pack
        for i, d in enumerate(p.derived):
            line = lp.line_of("derived", i, "expr")
            try:
                expr = compile_expression(d.expr)
            except ExpressionError as exc:
                out.append(PackProblem(str(lp.path), line, f"derived {d.key}: {exc}"))
                continue
            unknown = sorted(expr.names - known[d.kind] - set(p.params))
            if unknown:
                out.append(PackProblem(str(lp.path), line,
                                       f"derived {d.key}: unknown measure(s) {', '.join(unknown)} in expression"))
            if d.fallback_for and d.fallback_for not in known[d.kind]:
                out.append(PackProblem(str(lp.path), lp.line_of("derived", i, "fallback_for"),
                                       f"derived {d.key}: fallback_for names unknown measure {d.fallback_for!r}"))
            if d.key in expr.names:
                out.append(PackProblem(str(lp.path), line, f"derived {d.key}: refers to itself"))
        for i, rule in enumerate(p.rules):
            if rule.amount is None:
                continue
            for key in rule.amount.keys:
                kind, unit = measure_kind.get(key, (None, None))
                if kind != rule.kind or unit != "gbp":
                    found = "unknown" if kind is None else f"{kind}/{unit}"
                    out.append(PackProblem(str(lp.path), lp.line_of("rules", i, "amount"),
                                           f"rule {rule.id}: amount names {key!r}, which is {found}; "
                                           f"expected a {rule.kind}/gbp measure"))
    return out
