"""Hostile inputs, counted: a thousand returns with a performance officer's mistakes (and worse)
and a thousand mutated rule packs, each through the code the CLI runs. Prints how many were
rejected, accepted, crashed (a traceback: must be 0), how many rejections were not located
(`FILE:ROW:COLUMN: message`: must be 0), how many alert changes the fraction mistake caused
(must be 0) and the slowest pack check. Then the inputs that must always be refused (issue 18: XLSX
bombs, control and invisible characters in names, lone surrogates): wrong accepts must be 0, and
each bomb's time and peak traced memory is printed.

The example year (alerts/examples/sandwell-2024-25) is landed first on a clock after its last period,
so every mutated return is compared with a real alert state. Seeded: the same counts each run.

    .venv/bin/python bench/hostile_inputs.py [--returns 1000] [--packs 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.returns.xlsx_bombs

from alerts.examples import SANDWELL
from alerts.steps import InProcess
from alerts.store.db import session_for
from alerts.usecases.ingest import ReturnLimits, ingest_bytes
from config import Settings, use_settings
from returns.names import name_problem
from rules.check import check_packs
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.returns import xlsx_bombs

EXAMPLES = SANDWELL
LANDED_AT = dt.datetime(2026, 2, 18, 9, 0, tzinfo=dt.UTC)  # after the year's last period (finance 2026-01)
LOCATED = re.compile(r"^.+:\d+(-\d+)?:[^:\s]+: \S.*$")  # FILE:ROW:COLUMN: message (ROW may be a range)
# The 2024 suite's percentage KPIs (the example year's): what a percent-formatted sheet saves as fractions.
# Returns name a KPI by code or by key.
PERCENT_KPIS = {name for b in load_catalog(SHIPPED_PACKS).rules if b.suite == "2024" and b.rule.unit == "percent"
                for name in (b.code, b.rule.measure_key)}


# --- mutations: each takes (name, bytes, rng) and returns (kind, name, bytes) -----------------

def _csv_rows(data: bytes) -> list[list[str]]:
    return [line.split(",") for line in data.decode("utf-8").splitlines()]


def _csv(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in rows) + "\n").encode()


def fractions(name, data, rng):
    rows = _csv_rows(data)
    for r in rows[1:]:
        if len(r) == 4 and r[2] in PERCENT_KPIS:
            r[3] = f"{float(r[3].rstrip('%')) / 100:.4g}"
    return "fractions", name, _csv(rows)


def blank_cell(name, data, rng):
    rows = _csv_rows(data)
    r = rng.choice(rows[1:])
    r[rng.randrange(len(r))] = ""
    return "blank cell", name, _csv(rows)


def typo(name, data, rng):
    text = data.decode()
    digits = [i for i, ch in enumerate(text) if ch.isdigit() and i > text.index("\n")]
    i = rng.choice(digits)
    return "typo", name, (text[:i] + rng.choice("OolI,.") + text[i + 1:]).encode()


def future_period(name, data, rng):
    rows = _csv_rows(data)
    rng.choice(rows[1:])[1] = rng.choice(["Apr-99", "2099-04", "Dec 2030"])
    return "future period", name, _csv(rows)


def absurd(name, data, rng):
    rows = _csv_rows(data)
    rng.choice(rows[1:])[-1] = rng.choice(["1e308", "-1e308", "inf", "nan", "1e20", "-5", "101", "99999"])
    return "absurd value", name, _csv(rows)


def short_row(name, data, rng):
    rows = _csv_rows(data)
    rng.choice(rows[1:]).pop()
    return "short row", name, _csv(rows)


def control_chars(name, data, rng):
    rows = _csv_rows(data)
    r = rng.choice(rows[1:])
    r[0] = r[0][:2] + rng.choice(["\x1b[31m", "\x07", "\x00", "\u202e", "\x7f"]) + r[0][2:]
    return "control characters", name, _csv(rows)


def non_ascii_digits(name, data, rng):
    table = str.maketrans("0123456789", rng.choice(["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "۰۱۲۳۴۵۶۷۸۹"]))
    rows = _csv_rows(data)
    r = rng.choice(rows[1:])
    r[-1] = r[-1].translate(table)
    return "non-ASCII digits", name, _csv(rows)


def duplicate_json_key(name, data, rng):
    return "duplicate JSON key", name, data.replace(b'"value":', b'"value": 1, "value":', 1)


def byte_flips(name, data, rng):
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    return "byte flips", name, bytes(buf)


def truncated(name, data, rng):
    return "truncated", name, data[: rng.randrange(1, len(data))]


def lines_shuffled(name, data, rng):
    lines = data.splitlines()
    for _ in range(rng.randint(1, 4)):
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i] = lines[j] if rng.random() < 0.5 else b""
    return "lines deleted or repeated", name, b"\n".join(lines) + b"\n"


def wrong_extension(name, data, rng):
    return "wrong extension", name.rsplit(".", 1)[0] + rng.choice([".xlsx", ".json", ".csv", ".txt"]), data


CSV_MUTATIONS = [fractions, blank_cell, typo, future_period, absurd, short_row, control_chars, non_ascii_digits,
                 byte_flips, truncated, lines_shuffled, wrong_extension]
OTHER_MUTATIONS = [byte_flips, truncated, wrong_extension]


def hostile_returns(n: int, rng: random.Random) -> list[tuple[str, str, bytes]]:
    csvs = sorted(EXAMPLES.glob("kpi-*.csv")) + sorted(EXAMPLES.glob("finance-*.csv")) + \
        sorted(EXAMPLES.glob("caseload-*.csv"))
    others = sorted(p for p in EXAMPLES.glob("kpi-*") if p.suffix in (".json", ".xlsx"))
    out = []
    for i in range(n):
        if i % 10 == 9:
            path = rng.choice(others)
            json_key = path.suffix == ".json" and rng.random() < 0.5
            mutate = duplicate_json_key if json_key else rng.choice(OTHER_MUTATIONS)
        else:
            path = rng.choice(csvs)
            mutate = rng.choice(CSV_MUTATIONS)
            if mutate is fractions and not path.name.startswith("kpi-"):
                mutate = typo
        out.append(mutate(f"hostile-{i:04d}-{path.name}", path.read_bytes(), rng))
    return out


# --- inputs that must always be refused (issue 18) ----------------------------------------------

BOMBS = {  # name: builder of an .xlsx
    "15M shared strings (declared)": lambda: xlsx_bombs.shared_strings(),
    "15M shared strings (no count)": lambda: xlsx_bombs.shared_strings(declared=False),
    "1M distinct shared strings": lambda: xlsx_bombs.distinct_shared_strings(1_000_000),
    "16,000 x 1,000 sheet": lambda: xlsx_bombs.wide_sheet(),
    "16,000 x 1,000, no dimension": lambda: xlsx_bombs.wide_sheet(dimension=False),
    "60 x 1,000 sheet": lambda: xlsx_bombs.wide_sheet(rows=60),
    "60 x 1,000, no dimension": lambda: xlsx_bombs.wide_sheet(rows=60, dimension=False),
    "64 MB of zeros": lambda: xlsx_bombs.zeros(64),
    "300,000 blank rows": lambda: xlsx_bombs.long_sheet(300_000),
}
HOSTILE_CHARS = ["\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u202e", "\u202d", "\u2066", "\u200b",
                 "\ufeff"]


def must_refuse() -> list[tuple[str, str, bytes]]:
    """(kind, name, bytes) of returns that must be rejected, located."""
    out = [("XLSX bomb: " + name, f"bomb-{i}.xlsx", build()) for i, (name, build) in enumerate(BOMBS.items())]
    caseload = (EXAMPLES / "caseload-2025-03.csv").read_text().splitlines()
    for i, char in enumerate(HOSTILE_CHARS):
        for column in (2, 4):  # team, worker
            rows = [r.split(",") for r in caseload]
            rows[1][column] = rows[1][column][:3] + char + rows[1][column][3:]
            text = "\n".join(",".join(f'"{c}"' if char in c else c for c in r) for r in rows) + "\n"
            out.append((f"control char in a {'team' if column == 2 else 'worker'}", f"names-{i}-{column}.csv",
                        text.encode()))
    kpi = (EXAMPLES / "kpi-2024-09.json").read_bytes()
    out.append(("lone surrogate (JSON value)", "s1.json", kpi.replace(b'"value": 71.9', b'"value": "7\\ud8001"', 1)))
    key = kpi.replace(b'"value": 71.9', b'"value": 71.9, "\\udfff": 1', 1)
    out.append(("lone surrogate (JSON key)", "s2.json", key))
    team = ('[{"provider": "sandwell", "period": "2025-03", "team": "t\\ud800", "service": "care_leavers", '
            '"worker": "Ann", "asye": "no", "caseload": 12}]')
    out.append(("lone surrogate (JSON team)", "s3.json", team.encode()))
    return out


def run_refusals(land) -> None:  # noqa: ANN001 - run_returns' land()
    outcomes: Counter[tuple[str, str]] = Counter()
    crashes, unlocated, bombs = [], [], []
    for kind, name, data in must_refuse():
        tracemalloc.start()
        start = time.process_time()
        try:
            result = land(name, data)
        except Exception:  # noqa: BLE001 - counting them is the point
            crashes.append((kind, name, traceback.format_exc(limit=3)))
            continue
        finally:
            cpu, (_, peak) = time.process_time() - start, tracemalloc.get_traced_memory()
            tracemalloc.stop()
        outcomes[(kind, "rejected" if result.errors else "accepted")] += 1
        unlocated += [line for line in result.errors if not LOCATED.match(line.splitlines()[0])]
        if kind.startswith("XLSX bomb"):
            bombs.append((kind.removeprefix("XLSX bomb: "), len(data), cpu, peak, (result.errors or ["ACCEPTED"])[0]))
    names = [f"Ann{c}Lee" for c in HOSTILE_CHARS] + ["a\r\nBcc: x"]
    name_accepts = sum(name_problem(n) is None for n in names)
    kinds = sorted({k for k, _ in outcomes})
    print(f"must refuse: {sum(outcomes.values()) + len(crashes)} returns "
          "(XLSX bombs, control characters in names, lone surrogates)")
    for k in kinds:
        print(f"  {k:<44}{outcomes[(k, 'rejected')]:>9} rejected{outcomes[(k, 'accepted')]:>4} accepted")
    wrong = sum(n for (_, o), n in outcomes.items() if o == "accepted")
    print(f"  tracebacks: {len(crashes)}   wrong accepts: {wrong + name_accepts} (returns {wrong}, "
          f"subscriber/user names {name_accepts} of {len(names)})   rejection lines not FILE:ROW:COLUMN: "
          f"{len(unlocated)}")
    print(f"  {'XLSX bomb':<32}{'size':>10}{'CPU':>9}{'peak':>9}  refusal")
    for name, size, cpu, peak, line in bombs:
        print(f"  {name:<32}{size / 1024:>7,.0f} KB{cpu * 1000:>6.0f} ms{peak / 1024 / 1024:>6.1f} MB  {line[:90]}")
    for kind, name, tb in crashes[:5]:
        print(f"  CRASH {kind} {name}\n{tb}")
    for line in unlocated[:5]:
        print(f"  UNLOCATED {line!r}")


def run_returns(n: int, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'hostile.db'}", broker_url="")
        use_settings(settings)
        catalog = load_catalog(settings.rules_dir)
        evaluate, limits = InProcess(settings).evaluate, ReturnLimits.of(settings)

        def land(name: str, data: bytes):
            with session_for(settings.database_url) as session:
                return ingest_bytes(session, catalog, name, data, evaluate, LANDED_AT, limits=limits)

        for path in sorted(EXAMPLES.iterdir()):
            if path.suffix in (".csv", ".xlsx", ".json") and path.name != "published.json":
                assert not land(path.name, path.read_bytes()).errors, path
        outcomes: Counter[tuple[str, str]] = Counter()
        crashes, unlocated, fraction_changes, worst = [], [], 0, 0.0
        for kind, name, data in hostile_returns(n, rng):
            start = time.perf_counter()
            try:
                result = land(name, data)
            except Exception:  # noqa: BLE001 - counting them is the point
                crashes.append((kind, name, traceback.format_exc(limit=3)))
                continue
            finally:
                worst = max(worst, time.perf_counter() - start)
            if result.errors:
                outcomes[(kind, "rejected")] += 1
                unlocated += [line for line in result.errors if not LOCATED.match(line.splitlines()[0])]
            else:
                outcomes[(kind, result.landed.status if result.landed else "?")] += 1
                if kind == "fractions" and result.outcome:
                    fraction_changes += len(result.outcome.transitions)
        run_refusals(land)
        use_settings(None)
    kinds = sorted({k for k, _ in outcomes})
    print(f"returns: {sum(outcomes.values()) + len(crashes)} hostile returns after the example year")
    print(f"  {'mistake':<28}{'rejected':>9}{'accepted':>9}{'restated':>9}{'duplicate':>10}")
    for k in kinds:
        print(f"  {k:<28}{outcomes[(k, 'rejected')]:>9}{outcomes[(k, 'accepted')]:>9}"
              f"{outcomes[(k, 'restated')]:>9}{outcomes[(k, 'duplicate')]:>10}")
    print(f"  tracebacks: {len(crashes)}   rejection lines not FILE:ROW:COLUMN: {len(unlocated)}   "
          f"alert changes from the fraction mistake: {fraction_changes}   slowest: {worst * 1000:.0f} ms")
    for kind, name, tb in crashes[:5]:
        print(f"  CRASH {kind} {name}\n{tb}")
    for line in unlocated[:5]:
        print(f"  UNLOCATED {line!r}")


def mutate_pack(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 3:
            key, sep, _ = lines[i].partition(":")
            lines[i] = key + sep + " " + rng.choice(["~", "[]", "{}", "-1", "1e400", "'x'", "&a [*a]", "!!binary x",
                                                     "{gte: 1, lt: 0}", "2024-13-01", "\"\\ud800\""])
        else:
            lines[i] = "\t" + lines[i] if rng.random() < 0.5 else lines[i].replace("  ", " ", 1)
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def run_packs(n: int, rng: random.Random) -> None:
    shipped = {p.name: p.read_text() for p in sorted(SHIPPED_PACKS.glob("*.yaml"))}
    crashes, refused, passed, worst = [], 0, 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            folder = Path(tmp) / f"p{i}"
            folder.mkdir()
            target = rng.choice(sorted(shipped))
            for name, text in shipped.items():
                (folder / name).write_text(mutate_pack(text, rng) if name == target else text)
            start = time.process_time()
            try:
                _, problems = check_packs(folder)
            except Exception:  # noqa: BLE001
                crashes.append((target, traceback.format_exc(limit=3)))
                continue
            finally:
                worst = max(worst, time.process_time() - start)
            if problems:
                refused += 1
                assert all(re.match(r"^.+:\d+: ", str(p)) for p in problems), problems
            else:
                passed += 1
    print(f"packs: {n} shipped rule-pack folders with one pack mutated (lines deleted, repeated, cut, retyped)")
    print(f"  refused {refused}, passed {passed} (a mutation can leave a valid pack), tracebacks: {len(crashes)}, "
          f"slowest check {worst * 1000:.0f} ms CPU (for all {len(shipped)} packs)")
    for target, tb in crashes[:5]:
        print(f"  CRASH {target}\n{tb}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--returns", type=int, default=1000)
    parser.add_argument("--packs", type=int, default=1000)
    args = parser.parse_args()
    run_returns(args.returns, random.Random(10))
    run_packs(args.packs, random.Random(11))


if __name__ == "__main__":
    main()
