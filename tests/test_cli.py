"""The CLI as a user runs it: in-process through Typer's CliRunner, plus smoke tests of the
installed `kpi-alerts` command in a subprocess (entry point, exit codes, a clean directory)."""

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


def test_installed_command_ingests_and_rejects(tmp_path):
    """Smoke test of the console script: the JSON shape users' scripts read, and exit 2."""
    res = run(tmp_path, "ingest", "--json", str(EXAMPLES / "kpi-2024-04.csv"))
    assert res.returncode == 0, res.stderr
    obj = json.loads(res.stdout)
    assert list(obj) == ["return", "evaluations", "transitions", "not_reported"] and obj["not_reported"] == []
    assert set(obj["return"]) == {"id", "provider", "kind", "periods", "status", "evaluation", "evaluation_error"}
    assert (obj["return"]["evaluation"], obj["return"]["evaluation_error"]) == ("done", None)
    assert (obj["return"]["status"], obj["return"]["periods"], len(obj["evaluations"])) == ("accepted", ["2024-04"], 15)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(kpi_csv([("2024-04", "PI1", "abc")]))
    res = run(tmp_path, "ingest", str(bad))
    assert res.returncode == 2 and res.stderr.strip() == f"{bad}:2:value: expected a number, got 'abc'"


def test_every_command_is_reachable_on_import(cli):
    from alerts.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {
        g.name for g in app.registered_groups if g.name}
    for g in app.registered_groups:
        if not g.name:
            names |= {c.name or c.callback.__name__ for c in g.typer_instance.registered_commands}
            names |= {s.name for s in g.typer_instance.registered_groups if s.name}
    assert names == {"ingest", "status", "history", "rules", "subscribe", "unsubscribe", "subscriptions",
                     "deliveries", "ack", "snooze", "digest", "demo", "returns", "serve", "tokens", "inbox", "db",
                     "users"}
    top = cli("--help")
    assert top.returncode == 0 and all(n in top.stdout for n in names)
    for group, sub in (("rules", "check"), ("subscriptions", "apply"), ("deliveries", "retry"),
                       ("deliveries", "flush"), ("digest", "preview"), ("digest", "send"), ("returns", "pending"),
                       ("tokens", "create"), ("tokens", "list"), ("tokens", "revoke"),
                       ("users", "add"), ("users", "list"), ("users", "link")):
        res = cli(group, sub, "--help")
        assert res.returncode == 0 and "Usage:" in res.stdout, (group, sub)


def test_ingest_json_status_history(cli):
    paths = [str(EXAMPLES / f) for f in ("kpi-2024-04.csv", "kpi-2024-05.csv")]
    res = cli("ingest", "--json", *paths)
    assert res.returncode == 0, res.stderr
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["return"]["status"] for o in objs] == ["accepted", "accepted"]
    assert set(objs[0]) == {"return", "evaluations", "transitions", "not_reported"}
    assert set(objs[0]["return"]) == {"id", "provider", "kind", "periods", "status", "evaluation", "evaluation_error"}
    assert objs[0]["return"]["periods"] == ["2024-04"] and len(objs[0]["evaluations"]) == 15
    assert set(objs[0]["evaluations"][0]) == {"rule", "indicator", "code", "suite", "subject", "period", "value",
                                              "rating"}
    assert set(objs[0]["transitions"][0]) == {"rule", "subject", "from", "to", "kind"} | {"period"}

    dup = cli("ingest", "--json", paths[0])
    assert json.loads(dup.stdout)["return"]["status"] == "duplicate"

    status = json.loads(cli("status", "--provider", "sandwell", "--json").stdout)
    pi1 = next(r for r in status if r["code"] == "PI1")
    assert (pi1["period"], pi1["value"], pi1["rating"], pi1["since"]) == ("2024-05", 81.6, "amber", "2024-04")

    hist = cli("history", "PI1", "--provider", "sandwell")
    assert hist.returncode == 0 and "2024-04" in hist.stdout and "2024-05" in hist.stdout
    unknown = cli("history", "PI99")
    assert unknown.returncode == 2 and "unknown indicator 'PI99'" in unknown.stderr


def test_bad_return_exit_2_with_located_messages(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(kpi_csv([("2024-04", "PI1", "abc"), ("2024-04", "PI99", "5")]))
    res = cli("ingest", str(bad))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}:") for line in lines)
    assert f"{bad}:2:value:" in lines[0]
    assert json.loads(cli("status", "--json").stdout) == []


def test_long_error_lines_are_never_wrapped(cli, tmp_path):
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4)
    deep.mkdir()
    bad = deep / "kpi-return-with-a-long-file-name.csv"
    bad.write_bytes(kpi_csv([("2024-04", "PI1", "abc")]))
    res = cli("ingest", str(bad))
    assert res.stderr.splitlines() == [f"{bad}:2:value: expected a number, got 'abc'"]


def test_rules_check_exit_codes(cli, tmp_path):
    assert cli("rules", "check").returncode == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "rules/packs/caseloads.yaml").read_text().replace("lt: 18.5", "lt: 18"))
    res = cli("rules", "check", str(broken))
    assert res.returncode == 1
    assert f"{broken}:" in res.stdout and "gap [18, 18.5)" in res.stdout


def test_a_failing_pack_stops_commands_with_exit_1(cli, tmp_path):
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "broken.yaml").write_text((ROOT / "rules/packs/caseloads.yaml").read_text().replace("lt: 18.5", "lt: 18"))
    res = cli("status", rules_dir=packs)
    assert res.returncode == 1 and "gap [18, 18.5)" in res.stderr and "kpi-alerts rules check" in res.stderr


def test_command_modules_import_nothing_heavy():
    """`kpi-alerts --help` and `rules check` start fast because commands import what they
    need when they run (bench/cli_startup.py measures it)."""
    code = ("import sys, alerts.cli; heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'celery', 'apprise', "
            "'pydantic', 'jinja2', 'openpyxl', 'config') if m in sys.modules]; print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert res.stdout.strip() == "[]"


@pytest.mark.e2e
def test_demo_runs_from_a_clean_directory(tmp_path):
    res = run(tmp_path, "demo")
    assert res.returncode == 0, res.stderr
    assert "10 KPIs on target, 5 within tolerance, none in failure" in res.stdout
    assert "escalated" in res.stdout and "resolved" in res.stdout
    assert not list(tmp_path.iterdir())  # the demo's database lived in a temporary folder
