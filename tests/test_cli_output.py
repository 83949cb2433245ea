"""Clear output (issue 10, section 6): tables kept whole in a pipe, hostile names shown
escaped, subscriber names without control characters, no secret in an error, subscriptions
scoped to providers and teams that exist, and subscriber ids where `digest preview` wants one."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.examples import SUBSCRIPTIONS
from tests.conftest import EXAMPLES

CANARY_TEAMS = ("workflows://prod-161.westeurope.logic.azure.com:443/CANARYWORKFLOW0123456789abcdef0123/"
                "CANARYSIGNATURExyz/")
HOSTILE_TEAM = "ai-1\x1b[31m\x1b]0;owned\x07"
HOSTILE_WORKER = "SW-1\r\nFAKE LINE\x9b2J\u202e"


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


# --- 1. tables in a pipe ----------------------------------------------------------------


def test_tables_in_a_pipe_keep_every_value_whole(cli, tmp_path):
    name = "Head of service for children in care, permanence and placements (West Midlands)"
    email = "head.of.service.children.in.care@an-unusually-long-council-domain.example.org"
    assert cli("subscribe", name, "--email", email, "--min-severity", "red").returncode == 0
    assert cli("ingest", str(EXAMPLES / "kpi-2024-10.csv")).returncode == 0

    subs = cli("subscriptions").stdout
    assert len(lines_with(subs, name)) == 1 and lines_with(subs, name) == lines_with(subs, email)
    status = cli("status").stdout
    assert len(lines_with(status, "single_assessments_45wd")) == 1 and "…" not in status
    history = cli("history", "PI1").stdout
    row = lines_with(history, "2024-10")
    assert len(row) == 1 and "single_assessments_45wd" in row[0] and "red" in row[0]
    deliveries = json.loads(cli("deliveries", "--json").stdout)
    assert deliveries
    table = cli("deliveries").stdout
    assert len(lines_with(table, deliveries[0]["subject"])) == 1 and "…" not in table


# --- 2. hostile names shown escaped -----------------------------------------------------


@given(st.text())
def test_shown_text_is_printable_and_keeps_printable_text_as_it_is(text):
    from alerts.cli.common import shown

    out = shown(text)
    assert out.isprintable()
    if text.isprintable():
        assert out == text


def test_shown_escapes_terminal_sequences_visibly():
    from alerts.cli.common import shown

    assert shown("a\x1b[31mb\r\n\x9b\u202e") == "a\\x1b[31mb\\r\\n\\x9b\\u202e"


def land_hostile_caseload(new_database) -> None:
    """A caseload return whose team and worker hold terminal escapes, stored as it was before
    returns refused such names (so listings meet them in databases that hold them)."""
    from alerts.steps import InProcess
    from alerts.store.db import session_for
    from alerts.store.landing import land
    from alerts.store.models import utcnow
    from config import Settings
    from returns.model import Observation, ParsedReturn
    from rules.loader import SHIPPED_PACKS

    settings = Settings(database_url=new_database('cli.db'), broker_url="", rules_dir=SHIPPED_PACKS)
    obs = (Observation("2025-03", "caseload", 31.0, 2, HOSTILE_TEAM, "assessment_intervention", HOSTILE_WORKER,
                       False),)
    parsed = ParsedReturn("hostile.csv", "caseload", "sandwell", ("2025-03",), obs, hashlib.sha256(b"h").hexdigest())
    with session_for(settings.database_url) as session:
        landed = land(session, parsed, utcnow())
    InProcess(settings).evaluate(landed.return_id)


def test_status_and_history_show_escape_sequences_as_text_and_json_stays_exact(cli, new_database):
    land_hostile_caseload(new_database)
    status, history = cli("status").stdout, cli("history", "worker_caseload").stdout
    for out in (status, history):
        assert "\x1b" not in out and "\x9b" not in out and "\r" not in out and "\x07" not in out
        assert "\u202e" not in out
        assert "sandwell/worker/SW-1\\r\\nFAKE LINE\\x9b2J\\u202e" in out
    assert "sandwell/team/ai-1\\x1b[31m\\x1b]0;owned\\x07" in status
    subjects = {r["subject"] for r in json.loads(cli("status", "--json").stdout)}
    assert {f"sandwell/team/{HOSTILE_TEAM}", f"sandwell/worker/{HOSTILE_WORKER}"} <= subjects  # exact in JSON
    hist = json.loads(cli("history", "worker_caseload", "--json").stdout)
    assert any(HOSTILE_WORKER in r["subject"] for r in hist)


def test_lines_naming_a_subject_show_it_escaped(cli, new_database):
    land_hostile_caseload(new_database)
    worker = next(r for r in json.loads(cli("status", "--json").stdout) if r["rule"] == "worker_caseload")
    res = cli("ack", str(worker["alert_id"]), "--by", "Head\x1b[2J")
    assert res.returncode == 0 and "\x1b" not in res.stdout and "\r" not in res.stdout
    assert "sandwell/worker/SW-1\\r\\nFAKE LINE" in res.stdout and "by Head\\x1b[2J" in res.stdout


def test_markup_in_a_name_is_shown_not_interpreted(cli, tmp_path):
    name = "[bold red]Lead[/] [link=https://evil.example]x[/link]"
    assert cli("subscribe", name, "--email", "lead@example.org").returncode == 0
    assert lines_with(cli("subscriptions").stdout, name)


# --- 3. subscriber names ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Lead\r\nBcc: x@example.org", "Lead\n", "Lead\x1b[2J", "Lead\x00", "Lead\u202e",
                                  "Lead\t1"])
def test_a_subscriber_name_with_control_characters_is_refused(cli, tmp_path, name):
    res = cli("subscribe", name, "--email", "lead@example.org")
    assert res.returncode == 2 and "cannot hold control characters" in res.stderr
    path = tmp_path / "subs.yaml"
    path.write_text(f"subscribers:\n  - name: {json.dumps(name)}\n    email: lead@example.org\n", encoding="utf-8")
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2 and "subscribers.0.name" in res.stderr and "control characters" in res.stderr
    assert json.loads(cli("subscriptions", "--json").stdout) == []


@given(st.text(min_size=1, max_size=200))
def test_a_subscriber_name_is_taken_exactly_when_printable_and_trimmed(name):
    import unicodedata

    from pydantic import ValidationError

    from alerts.usecases.subscriptions import SubscriberSpec

    # printable: no control, invisible formatting, line or paragraph separator, or lone surrogate (returns.names)
    ok = all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in name) and name == name.strip()
    try:
        assert SubscriberSpec(name=name, email="jo@example.org").name == name and ok
    except ValidationError:
        assert not ok


# --- 4. no secret in an error -----------------------------------------------------------


@pytest.mark.parametrize("broken", [
    "subscribers:\n  - name: Safeguarding\n    teams: {url} extra: [\n",  # a flow mapping never closed
    "subscribers:\n  - name: Safeguarding\n    teams: '{url}\n",  # an unterminated quote
    "subscribers:\n  - name: Safeguarding\n\tteams: {url}\n",  # a tab
    "subscribers:\n  - name: Safeguarding\n    teams: {url}\n   bad: indent: {url}\n",
])
def test_a_yaml_error_names_file_line_and_problem_never_the_line(cli, tmp_path, broken):
    path = tmp_path / "subs.yaml"
    path.write_text(broken.format(url=CANARY_TEAMS), encoding="utf-8")
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2
    assert "CANARY" not in res.stderr + res.stdout and "logic.azure.com" not in res.stderr
    line, = res.stderr.splitlines()
    assert line.startswith(f"{path}:") and "invalid YAML" in line
    assert line.split(":")[1].isdigit()  # FILE:LINE:COLUMN


def test_a_bad_teams_url_in_a_file_is_not_echoed(cli, tmp_path):
    path = tmp_path / "subs.yaml"
    path.write_text(f"subscribers:\n  - name: S\n    teams: '{CANARY_TEAMS.replace('workflows', 'https')}'\n")
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2 and "CANARY" not in res.stderr and "subscribers.0.teams" in res.stderr


# --- 5. providers and teams that exist; subscriber ids ----------------------------------


def test_unknown_providers_and_teams_are_refused_with_the_known_ones(cli, tmp_path):
    none_yet = cli("subscribe", "Lead", "--email", "l@example.org", "--provider", "sandwell")
    assert none_yet.returncode == 2 and "unknown provider(s) sandwell (known: none yet" in none_yet.stderr
    assert cli("ingest", str(EXAMPLES / "kpi-2024-10.csv"), str(EXAMPLES / "caseload-2025-03.csv")).returncode == 0
    typo = cli("subscribe", "Lead", "--email", "l@example.org", "--provider", "sandwel")
    assert typo.returncode == 2 and "unknown provider(s) sandwel (known: sandwell)" in typo.stderr
    assert "--allow-unknown" in typo.stderr
    team = cli("subscribe", "Lead", "--email", "l@example.org", "--team", "cwcf-9")
    assert team.returncode == 2 and "unknown team(s) cwcf-9 (known: " in team.stderr and "cwcf-1" in team.stderr
    assert json.loads(cli("subscriptions", "--json").stdout) == []
    assert cli("subscribe", "Lead", "--email", "l@example.org", "--provider", "sandwell", "--team",
               "cwcf-1").returncode == 0
    assert cli("subscribe", "Lead", "--email", "l@example.org", "--provider", "walsall",
               "--allow-unknown").returncode == 0
    assert [r["providers"] for r in json.loads(cli("subscriptions", "--json").stdout)] == [["sandwell"], ["walsall"]]


def test_a_subscriptions_file_allows_unknown_names_per_file_or_per_subscriber(cli, tmp_path):
    path = tmp_path / "subs.yaml"
    body = ("subscribers:\n  - name: A\n    email: a@example.org\n{a}    subscriptions:\n      - providers: [walsall]\n"
            "  - name: B\n    email: b@example.org\n    subscriptions:\n      - teams: [nowhere-1]\n")
    path.write_text(body.format(a=""))
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2 and "unknown provider(s) walsall" in res.stderr and "allow_unknown: true" in res.stderr
    assert f"{path}: subscriber 'A'" in res.stderr
    path.write_text(body.format(a="    allow_unknown: true\n"))
    res = cli("subscriptions", "apply", str(path))
    assert res.returncode == 2 and "unknown team(s) nowhere-1" in res.stderr and "subscriber 'B'" in res.stderr
    assert json.loads(cli("subscriptions", "--json").stdout) == []  # one transaction: nothing applied
    path.write_text("allow_unknown: true\n" + body.format(a=""))
    assert cli("subscriptions", "apply", str(path)).stdout.strip() == "2 added, 0 removed, 0 unchanged"
    path.write_text("allow_unknown: true\n" + body.format(a="    allow_unknown: false\n"))
    assert "unknown provider(s) walsall" in cli("subscriptions", "apply", str(path)).stderr


def test_the_example_subscriptions_file_applies_once_returns_name_its_provider_and_team(cli):
    example = str(SUBSCRIPTIONS)
    res = cli("subscriptions", "apply", example)
    assert res.returncode == 2 and "unknown provider(s) sandwell" in res.stderr
    assert cli("ingest", str(EXAMPLES / "kpi-2024-10.csv"), str(EXAMPLES / "caseload-2025-03.csv")).returncode == 0
    assert cli("subscriptions", "apply", example).returncode == 0


def test_subscriber_ids_are_listed_and_taken_by_digest_preview(cli, tmp_path):
    assert cli("subscribe", "Alpha", "--email", "a@example.org").returncode == 0
    assert cli("subscribe", "Beta", "--email", "b@example.org", "--tag", "finance").returncode == 0
    assert cli("subscribe", "Beta", "--email", "b@example.org", "--min-severity", "red").returncode == 0
    rows = json.loads(cli("subscriptions", "--json").stdout)
    assert {"id", "subscriber", "email", "teams", "indicators", "tags", "providers", "teams_filter", "transitions",
            "min_severity", "delivery", "subscriber_id", "digest_cadence"} == set(rows[0])
    ids = {r["subscriber"]: r["subscriber_id"] for r in rows}
    assert len(set(ids.values())) == 2 and rows[1]["subscriber_id"] == rows[2]["subscriber_id"]
    table = cli("subscriptions").stdout
    assert "subscriber id" in table
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if "│" in line]
    assert [str(rows[2]["id"]), str(ids["Beta"]), "Beta"] in [c[:3] for c in cells]
    out = tmp_path / "d.html"
    prev = cli("digest", "preview", "--subscriber", str(ids["Beta"]), "--week", "2099-W01", "--out", str(out))
    assert prev.returncode == 0, prev.stderr
