"""docker-compose.yml without a Docker engine (issue 11, section 5): the file is valid against
the Compose Specification's JSON schema (vendored: tests/data/compose-spec/SOURCE.md), every
service our image runs is a command of this project, the services wait for what they need,
and the app is configured only through KPI_ALERTS_* variables, every one a Settings field and
every Settings field listed in .env.example. The end-to-end tests run the same processes
natively (tests/e2e/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml

from config import Settings
from tests.conftest import ROOT

COMPOSE_PATH = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
COMPOSE = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
OUR_IMAGE = sorted(name for name, s in SERVICES.items() if "build" in s)
FIELDS = {f"KPI_ALERTS_{name.upper()}" for name in Settings.model_fields}
# commands other helpers of issue 11 are adding; until they are merged a missing one is expected


def test_the_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_mistake():
    broken = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
    broken["services"]["worker"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["api"]["helthcheck"] = {}
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


def test_the_services_of_the_production_shape():
    assert set(SERVICES) == {"redis", "postgres", "migrate", "api", "worker", "beat", "mailpit", "flower"}
    assert OUR_IMAGE == ["api", "beat", "migrate", "worker"]
    for name in OUR_IMAGE:
        assert SERVICES[name]["image"] == "kpi-alerts:latest" and SERVICES[name]["build"] == "."
    for name in set(SERVICES) - {"migrate"}:  # migrate runs once and exits
        assert "healthcheck" in SERVICES[name], name
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"


def test_each_service_waits_for_what_it_needs():
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in SERVICES[name].get("depends_on", {}).items()}

    assert conditions("migrate") == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        assert conditions(name) == {"migrate": "service_completed_successfully", "postgres": "service_healthy",
                                    "redis": "service_healthy"}, name
    assert conditions("beat") == {"migrate": "service_completed_successfully", "redis": "service_healthy"}
    assert conditions("flower") == {"redis": "service_healthy"}


def test_the_data_lives_in_named_volumes():
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data"}
    assert SERVICES["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert SERVICES["redis"]["volumes"] == ["redis-data:/data"]


def test_redis_keeps_what_it_is_given():
    command = SERVICES["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert command[0] == "redis-server"
    assert options["--appendonly"] == "yes" and options["--maxmemory-policy"] == "noeviction"


def test_exactly_one_beat():
    from workers.app import app

    beat = SERVICES["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert [name for name, s in SERVICES.items() if " beat" in " ".join(s.get("command", []))] == ["beat"]
    assert app.conf.redbeat_lock_key in " ".join(beat["healthcheck"]["test"])  # healthy while it holds the lock


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")  # Typer's own click or click's: a group lists commands


def _kpi_alerts_command(args: list[str]) -> tuple[Any, list[str], tuple[str, ...]]:
    """The command `kpi-alerts ARGS` names (resolved through the Typer app as the console script
    does), the option names left, and the subcommand path."""
    from alerts.cli import app

    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        found = command.get_command(command.context_class(command), name)
        if found is None:
            raise LookupError(f"kpi-alerts {' '.join([*path, name])}: no such command")
        command, path = found, [*path, name]
    return command, [a for a in rest if a.startswith("-")], tuple(path)


def _options_of(command: Any) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def _command_cases() -> list:
    cases = []
    for name in OUR_IMAGE:
        args = SERVICES[name]["command"]
        cases.append(pytest.param(name, args, id=name))
    return cases


@pytest.mark.parametrize(("service", "args"), _command_cases())
def test_every_service_command_exists_in_the_project(service, args):
    if args[0] == "kpi-alerts":
        command, options, _ = _kpi_alerts_command(args[1:])
        assert not _is_group(command), f"{service}: {' '.join(args)} names a group, not a command"
        assert set(options) <= _options_of(command), (service, set(options) - _options_of(command))
        return
    assert args[0] == "celery", service
    from celery.bin.celery import celery as celery_cli

    assert args[1:3] == ["-A", "workers.app"]
    import importlib

    from celery import Celery

    assert isinstance(importlib.import_module("workers.app").app, Celery)
    sub = celery_cli.commands[args[3]]
    options = [a.split("=")[0] for a in args[4:] if a.startswith("-")]
    assert set(options) <= _options_of(sub), (service, set(options) - _options_of(sub))


def test_the_worker_consumes_every_queue():
    from alerts import steps

    args = SERVICES["worker"]["command"]
    assert args[args.index("-Q") + 1].split(",") == list(steps.QUEUES)


def test_the_api_listens_where_the_healthcheck_and_the_port_look():
    args = SERVICES["api"]["command"]
    port = args[args.index("--port") + 1]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert SERVICES["api"]["ports"] == [f"{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(SERVICES["api"]["healthcheck"]["test"])


def _compose_variables() -> set[str]:
    """KPI_ALERTS_* names the compose file sets (environment keys) or reads (${...})."""
    text = COMPOSE_PATH.read_text(encoding="utf-8")
    names = set(re.findall(r"\$\{(KPI_ALERTS_\w+?)(?:[:?}-])", text))
    for service in SERVICES.values():
        env = service.get("environment", {})
        keys = env if isinstance(env, dict) else [e.split("=")[0] for e in env]
        names |= {k for k in keys if k.startswith("KPI_ALERTS_")}
    return names


def _env_example() -> tuple[dict[str, str], set[str]]:
    """(variables set, variables listed: set or shown commented out with their default)."""
    active: dict[str, str] = {}
    listed: set[str] = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if m:
            listed.add(m[2])
            if not m[1]:
                active[m[2]] = m[3]
    return active, listed


def test_every_kpi_alerts_variable_is_a_settings_field():
    active, listed = _env_example()
    used = _compose_variables() | {n for n in listed if n.startswith("KPI_ALERTS_")}
    assert used - FIELDS == set(), "not Settings fields (config/settings.py): " + ", ".join(sorted(used - FIELDS))


def test_env_example_lists_every_setting():
    _, listed = _env_example()
    assert FIELDS - listed == set(), "add to .env.example: " + ", ".join(sorted(FIELDS - listed))


def test_the_app_is_configured_only_through_kpi_alerts_variables():
    active, _ = _env_example()
    assert set(active) - FIELDS == {"POSTGRES_PASSWORD"}  # PostgreSQL's own, read by compose only
    for name in OUR_IMAGE:
        assert SERVICES[name]["env_file"] == ".env", name
        assert "environment" not in SERVICES[name], name  # everything comes from .env
    assert "${POSTGRES_PASSWORD" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert active["KPI_ALERTS_DATABASE_URL"].split(":")[2].split("@")[0] == active["POSTGRES_PASSWORD"]


def test_the_example_settings_load(tmp_path: Path):
    active, _ = _env_example()
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in active.items()), encoding="utf-8")
    s = Settings(_env_file=env)
    assert s.database_url.startswith("postgresql+psycopg://") and s.broker_url == "redis://redis:6379/0"
    assert not s.eager and s.email_url == "mailto://mailpit:1025"


def test_the_image_installs_the_tested_versions():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "pip install -c constraints.txt ." in dockerfile
    for package in ("alerts", "config", "returns", "rules", "workers"):
        assert f"COPY {package} ./{package}" in dockerfile, package
