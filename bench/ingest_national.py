"""Benchmark: a synthetic national-scale year of KPI returns, ingested, rated and stored on SQLite.

153 providers x 15 KPIs x 12 months = 27,540 rows. A return comes from one provider, so the
national year lands as 153 returns of 180 rows each (every provider's year in one file).
Prints wall time, rows/s, database statements per return for small and large returns (they
must not grow with the rows), and the pure rating throughput (no I/O).

    .venv/bin/python bench/ingest_national.py
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from alerts.ingest import ingest_bytes
from sqlalchemy import event

from alerts.store.db import get_engine
from config import Settings, get_settings, use_settings
from rules.bands import rate
from rules.check import load_catalog
from rules.loader import SHIPPED_PACKS

PROVIDERS = 153
MONTHS = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]


def suite_2024():
    catalog = load_catalog(SHIPPED_PACKS)
    return catalog, [b for b in catalog.rules if b.suite == "2024" and b.code]


def return_csv(provider: str, months: list[str], rules, rng: random.Random) -> bytes:
    lines = ["provider,period,indicator,value"]
    for period in months:
        for b in rules:
            lo, hi = (0.0, 100.0) if b.rule.unit == "percent" else (20.0, 120.0)
            lines.append(f"{provider},{period},{b.code},{rng.uniform(lo, hi):.2f}")
    return ("\n".join(lines) + "\n").encode()


class StatementCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, *_args) -> None:
        self.count += 1


def main() -> None:
    rng = random.Random(2024)
    catalog, rules = suite_2024()
    assert len(rules) == 15
    files = [(f"la-{i:03d}", return_csv(f"la-{i:03d}", MONTHS, rules, rng)) for i in range(PROVIDERS)]
    rows = sum(len(data.splitlines()) - 1 for _, data in files)

    with tempfile.TemporaryDirectory() as tmp:
        use_settings(Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", broker_url=""))
        engine = get_engine(get_settings().database_url)
        counter = StatementCounter(engine)
        start = time.perf_counter()
        for name, data in files:
            result = ingest_bytes(f"{name}.csv", data)
            assert result.landed and result.landed.status == "accepted", result.errors
        wall = time.perf_counter() - start
        statements = counter.count

        # statements for a 1-month return vs a 12-month return of a new provider
        per_return = {}
        for months in (MONTHS[:1], MONTHS):
            counter.count = 0
            data = return_csv(f"probe-{len(months)}", months, rules, rng)
            ingest_bytes(f"probe-{len(months)}.csv", data)
            per_return[len(months) * 15] = counter.count
        use_settings(None)

    print(f"ingest_national: {rows:,} rows in {PROVIDERS} returns, parsed + stored + rated + alerts: "
          f"{wall:.2f} s wall ({rows / wall:,.0f} rows/s); target <= 3 s")
    print(f"  database statements: {statements} in total, {statements / PROVIDERS:.1f} per return")
    print("  statements per return by size: " + ", ".join(f"{n} rows -> {c}" for n, c in per_return.items())
          + " (does not grow with rows)")

    bands = [b.rule.versions[0].bands for b in rules]
    values = [rng.uniform(0, 100) for _ in range(200_000)]
    start = time.perf_counter()
    for i, v in enumerate(values):
        rate(v, bands[i % 15])
    pure = time.perf_counter() - start
    print(f"  pure rating throughput: {len(values) / pure:,.0f} ratings/s (rate(), no I/O)")
    del catalog


if __name__ == "__main__":
    main()
