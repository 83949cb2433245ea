"""Notification commands as a user runs them (in-process CLI, real SMTP and Teams peers)."""

from __future__ import annotations

import json

from alerts.examples import SUBSCRIPTIONS
from tests.conftest import EXAMPLES


def test_subscribe_list_unsubscribe(cli, tmp_path, teams_server):
    res = cli("subscribe", "Commissioning lead", "--email", "lead@example.org", "--teams",
              teams_server.url, "--indicator", "PI1", "--tag", "finance", "--min-severity", "red",
              "--delivery", "both")
    assert res.returncode == 0, res.stderr
    rows = json.loads(cli("subscriptions", "--json").stdout)
    assert len(rows) == 1
    r = rows[0]
    assert (r["subscriber"], r["indicators"], r["tags"], r["min_severity"], r["delivery"]) == (
        "Commissioning lead", ["PI1"], ["finance"], "red", "both")
    assert "CANARYSIG" not in r["teams"] and r["teams"].startswith("workflow")  # privacy form only
    assert cli("unsubscribe", str(r["id"])).returncode == 0
    assert json.loads(cli("subscriptions", "--json").stdout) == []
    assert cli("unsubscribe", "99").returncode == 2


def test_subscribe_rejects_unknown_indicator_tag_and_bad_addresses(cli, tmp_path):
    bad = cli("subscribe", "X", "--email", "x@example.org", "--indicator", "PI99")
    assert bad.returncode == 2 and "unknown indicator(s) PI99" in bad.stderr
    assert "unknown tag(s) nope" in cli("subscribe", "X", "--email", "x@e.org", "--tag", "nope").stderr
    assert "expected one email address" in cli("subscribe", "X", "--email", "not-an-address").stderr
    assert "workflows://" in cli("subscribe", "X", "--teams", "https://example.org/hook").stderr


def test_subscriptions_apply_is_idempotent(cli, tmp_path):
    path = SUBSCRIPTIONS
    # the file names a provider and a team: known once returns have named them
    assert cli("ingest", str(EXAMPLES / "kpi-2024-04.csv"), str(EXAMPLES / "caseload-2025-03.csv")).returncode == 0
    first = cli("subscriptions", "apply", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "6 added, 0 removed, 0 unchanged"
    assert cli("subscriptions", "apply", str(path)).stdout.strip() == "0 added, 0 removed, 6 unchanged"
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text("subscribers:\n  - name: Scrutiny board\n    email: scrutiny@example.org\n"
                       "    subscriptions:\n      - delivery: digest\n")
    out = cli("subscriptions", "apply", str(smaller)).stdout.strip()
    assert out.startswith("0 added, 5 removed, 1 unchanged; subscribers removed: ")
    assert len(json.loads(cli("subscriptions", "--json").stdout)) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("subscribers:\n  - name: X\n    email: x@example.org\n    subscriptions:\n"
                      "      - min_severity: purple\n")
    res = cli("subscriptions", "apply", str(broken))
    assert res.returncode == 2 and "subscribers.0.subscriptions.0.min_severity" in res.stderr


def test_ingest_notifies_and_deliveries_lists_failures(cli, tmp_path, smtp_server):
    env = {"email_url": smtp_server.apprise_url, "email_from": "kpi@example.org"}
    assert cli("subscribe", "Lead", "--email", "lead@example.org", **env).returncode == 0
    smtp_server.script = ["550 no such mailbox"] * 10
    res = cli("ingest", str(EXAMPLES / "kpi-2024-10.csv"), **env, delivery_max_attempts=1)
    assert res.returncode == 0, res.stderr
    failed = json.loads(cli("deliveries", "--failed", "--json", **env).stdout)
    assert [(d["status"], d["attempts"]) for d in failed] == [("failed", 1)]
    assert failed[0]["subject"].startswith("[RED] Sandwell:")
    smtp_server.script = []
    retry = cli("deliveries", "retry", str(failed[0]["id"]), **env)
    assert retry.returncode == 0, retry.stderr
    smtp_server.wait_for(1)
    assert json.loads(cli("deliveries", "--failed", "--json", **env).stdout) == []


def test_ack_and_snooze_commands(cli, tmp_path):
    cli("ingest", str(EXAMPLES / "kpi-2024-10.csv"))
    status = json.loads(cli("status", "--json").stdout)
    pi1 = next(r for r in status if r["code"] == "PI1")
    ack = cli("ack", str(pi1["alert_id"]), "--by", "Head of service", "--note", "Plan agreed")
    assert ack.returncode == 0 and "single_assessments_45wd sandwell) acknowledged by Head of service" in ack.stdout
    assert cli("ack", "999", "--by", "x").returncode == 2
    snooze = cli("snooze", "PI1", "--until", "2099-01-01", "--by", "Perf")
    assert snooze.returncode == 0 and "snoozed single_assessments_45wd" in snooze.stdout
    assert "in the future" in cli("snooze", "PI1", "--until", "2001-01-01").stderr
    assert "YYYY-MM-DD" in cli("snooze", "PI1", "--until", "soon").stderr


def test_digest_preview_and_send(cli, tmp_path, smtp_server):
    env = {"email_url": smtp_server.apprise_url}
    for name in ("kpi-2024-04.csv", "kpi-2024-05.csv"):
        cli("ingest", str(EXAMPLES / name), **env)
    assert cli("subscribe", "Scrutiny", "--email", "s@example.org", "--delivery", "digest", **env).returncode == 0
    out = tmp_path / "d.html"
    prev = cli("digest", "preview", "--subscriber", "1", "--week", "2099-W01", "--out", str(out),
               **env)
    assert prev.returncode == 0, prev.stderr
    assert prev.stdout.startswith("Weekly digest 2099-W01:") and "PI1" in out.read_text()
    text = (tmp_path / "d.txt").read_text()  # the plain-text part, beside it
    assert text.startswith("kpi-alerts weekly digest, 2099-W01") and "\n- PI1 " in text and "<td" not in text
    assert not smtp_server.messages  # preview sends nothing
    bad = cli("digest", "preview", "--subscriber", "9", "--out", str(out), **env)
    assert bad.returncode == 2 and "no subscriber with id 9" in bad.stderr
    dry = cli("digest", "send", "--week", "2099-W01", "--dry-run", **env)
    assert "dry run: 1 digests for 2099-W01 composed, nothing sent" in dry.stdout and not smtp_server.messages
    assert cli("digest", "send", "--week", "2099-W01", **env).returncode == 0
    assert cli("digest", "send", "--week", "2099-W01", **env).returncode == 0  # again: no-op
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1
    assert "ISO week" in cli("digest", "send", "--week", "soon", **env).stderr
