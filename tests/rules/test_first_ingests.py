"""A fresh database created by 20 concurrent first ingests never fails: the schema is made
once, whoever comes first ("table returns already exists" otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alerts.examples import SANDWELL

KPI_ALERTS = Path(sys.executable).with_name("kpi-alerts")
EXAMPLE = SANDWELL / "kpi-2024-05.csv"
N = 20


def test_twenty_concurrent_first_ingests_of_a_fresh_database(tmp_path):
    db = tmp_path / "fresh.db"
    env = {**os.environ, "KPI_ALERTS_DATABASE_URL": f"sqlite:///{db}", "KPI_ALERTS_BROKER_URL": ""}
    env.pop("KPI_ALERTS_RULES_DIR", None)
    files = []
    for i in range(N):  # one provider each: 20 first returns, no restatements
        path = tmp_path / f"return-{i}.csv"
        path.write_text(EXAMPLE.read_text().replace("sandwell,", f"provider{i},"))
        files.append(path)
    procs = [subprocess.Popen([str(KPI_ALERTS), "ingest", "--json", str(f)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    failures = [(rc, err[-500:]) for rc, _, err in results if rc != 0]
    assert failures == []
    landed = [json.loads(out)["return"] for _, out, _ in results]
    assert sorted(r["provider"] for r in landed) == sorted(f"provider{i}" for i in range(N))
    assert {r["status"] for r in landed} == {"accepted"}
    assert sorted(r["id"] for r in landed) == list(range(1, N + 1))
