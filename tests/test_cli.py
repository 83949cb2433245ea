"""The CLI end to end, as a user runs it: the installed `kpi-alerts` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, kpi_csv

EXE = Path(sys.executable).parent / "kpi-alerts"


def run(tmp_path: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({"KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"})
    env.update(env_extra or {})
    return subprocess.run([str(EXE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_ingest_json_status_history(tmp_path):
    paths = [str(EXAMPLES / f) for f in ("kpi-2024-04.csv", "kpi-2024-05.csv")]
    res = run(tmp_path, "ingest", "--json", *paths)
    assert res.returncode == 0, res.stderr
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["return"]["status"] for o in objs] == ["accepted", "accepted"]
    assert set(objs[0]) == {"return", "evaluations", "transitions"}
    assert set(objs[0]["return"]) == {"id", "provider", "kind", "periods", "status"}
    assert objs[0]["return"]["periods"] == ["2024-04"] and len(objs[0]["evaluations"]) == 15
    assert set(objs[0]["evaluations"][0]) == {"rule", "indicator", "code", "suite", "subject", "period", "value",
                                              "rating"}
    assert set(objs[0]["transitions"][0]) == {"rule", "subject", "from", "to", "kind"} | {"period"}

    dup = run(tmp_path, "ingest", "--json", paths[0])
    assert json.loads(dup.stdout)["return"]["status"] == "duplicate"

    status = json.loads(run(tmp_path, "status", "--provider", "sandwell", "--json").stdout)
    pi1 = next(r for r in status if r["code"] == "PI1")
    assert (pi1["period"], pi1["value"], pi1["rating"], pi1["since"]) == ("2024-05", 81.6, "amber", "2024-04")

    hist = run(tmp_path, "history", "PI1", "--provider", "sandwell")
    assert hist.returncode == 0 and "2024-04" in hist.stdout and "2024-05" in hist.stdout
    unknown = run(tmp_path, "history", "PI99")
    assert unknown.returncode == 2 and "unknown indicator 'PI99'" in unknown.stderr


def test_bad_return_exit_2_with_located_messages(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(kpi_csv([("2024-04", "PI1", "abc"), ("2024-04", "PI99", "5")]))
    res = run(tmp_path, "ingest", str(bad))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}:") for line in lines)
    assert f"{bad}:2:value:" in lines[0]
    assert json.loads(run(tmp_path, "status", "--json").stdout) == []


def test_rules_check_exit_codes(tmp_path):
    assert run(tmp_path, "rules", "check").returncode == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "rules/packs/caseloads.yaml").read_text().replace("lt: 18.5", "lt: 18"))
    res = run(tmp_path, "rules", "check", str(broken))
    assert res.returncode == 1
    assert f"{broken}:" in res.stdout and "gap [18, 18.5)" in res.stdout


@pytest.mark.e2e
def test_demo_runs_from_a_clean_directory(tmp_path):
    res = run(tmp_path, "demo")
    assert res.returncode == 0, res.stderr
    assert "10 KPIs on target, 5 within tolerance, none in failure" in res.stdout
    assert "escalated" in res.stdout and "resolved" in res.stdout
    assert not list(tmp_path.iterdir())  # the demo's database lived in a temporary folder
