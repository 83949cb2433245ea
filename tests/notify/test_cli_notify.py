"""Notification commands as a user runs them (subprocess, real SMTP peer)."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, ROOT
from tests.test_cli import run


def test_subscribe_list_unsubscribe(tmp_path, teams_server):
    res = run(tmp_path, "subscribe", "Commissioning lead", "--email", "lead@example.org", "--teams",
              teams_server.url, "--indicator", "PI1", "--tag", "finance", "--min-severity", "red",
              "--delivery", "both")
    assert res.returncode == 0, res.stderr
    rows = json.loads(run(tmp_path, "subscriptions", "--json").stdout)
    assert len(rows) == 1
    r = rows[0]
    assert (r["subscriber"], r["indicators"], r["tags"], r["min_severity"], r["delivery"]) == (
        "Commissioning lead", ["PI1"], ["finance"], "red", "both")
    assert "CANARYSIG" not in r["teams"] and r["teams"].startswith("workflow")  # privacy form only
    assert run(tmp_path, "unsubscribe", str(r["id"])).returncode == 0
    assert json.loads(run(tmp_path, "subscriptions", "--json").stdout) == []
    assert run(tmp_path, "unsubscribe", "99").returncode == 2


def test_subscribe_rejects_unknown_indicator_tag_and_bad_addresses(tmp_path):
    bad = run(tmp_path, "subscribe", "X", "--email", "x@example.org", "--indicator", "PI99")
    assert bad.returncode == 2 and "unknown indicator(s) PI99" in bad.stderr
    assert "unknown tag(s) nope" in run(tmp_path, "subscribe", "X", "--email", "x@e.org", "--tag", "nope").stderr
    assert "expected one email address" in run(tmp_path, "subscribe", "X", "--email", "not-an-address").stderr
    assert "workflows://" in run(tmp_path, "subscribe", "X", "--teams", "https://example.org/hook").stderr


def test_subscriptions_apply_is_idempotent(tmp_path):
    path = ROOT / "examples" / "subscriptions.yaml"
    first = run(tmp_path, "subscriptions", "apply", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "6 added, 0 removed, 0 unchanged"
    assert run(tmp_path, "subscriptions", "apply", str(path)).stdout.strip() == "0 added, 0 removed, 6 unchanged"
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text("subscribers:\n  - name: Scrutiny board\n    email: scrutiny@example.org\n"
                       "    subscriptions:\n      - delivery: digest\n")
    out = run(tmp_path, "subscriptions", "apply", str(smaller)).stdout.strip()
    assert out.startswith("0 added, 5 removed, 1 unchanged; subscribers removed: ")
    assert len(json.loads(run(tmp_path, "subscriptions", "--json").stdout)) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("subscribers:\n  - name: X\n    email: x@example.org\n    subscriptions:\n"
                      "      - min_severity: purple\n")
    res = run(tmp_path, "subscriptions", "apply", str(broken))
    assert res.returncode == 2 and "subscribers.0.subscriptions.0.min_severity" in res.stderr


def test_ingest_notifies_and_deliveries_lists_failures(tmp_path, smtp_server):
    env = {"KPI_ALERTS_EMAIL_URL": smtp_server.apprise_url, "KPI_ALERTS_EMAIL_FROM": "kpi@example.org"}
    assert run(tmp_path, "subscribe", "Lead", "--email", "lead@example.org", env_extra=env).returncode == 0
    smtp_server.script = ["550 no such mailbox"] * 10
    res = run(tmp_path, "ingest", str(EXAMPLES / "kpi-2024-10.csv"), env_extra={
        **env, "KPI_ALERTS_DELIVERY_MAX_ATTEMPTS": "1"})
    assert res.returncode == 0, res.stderr
    failed = json.loads(run(tmp_path, "deliveries", "--failed", "--json", env_extra=env).stdout)
    assert [(d["status"], d["attempts"]) for d in failed] == [("failed", 1)]
    assert failed[0]["subject"].startswith("[RED] Sandwell:")
    smtp_server.script = []
    retry = run(tmp_path, "deliveries", "retry", str(failed[0]["id"]), env_extra=env)
    assert retry.returncode == 0, retry.stderr
    smtp_server.wait_for(1)
    assert json.loads(run(tmp_path, "deliveries", "--failed", "--json", env_extra=env).stdout) == []


def test_ack_and_snooze_commands(tmp_path):
    run(tmp_path, "ingest", str(EXAMPLES / "kpi-2024-10.csv"))
    status = json.loads(run(tmp_path, "status", "--json").stdout)
    pi1 = next(r for r in status if r["code"] == "PI1")
    ack = run(tmp_path, "ack", str(pi1["alert_id"]), "--by", "Head of service", "--note", "Plan agreed")
    assert ack.returncode == 0 and "single_assessments_45wd sandwell) acknowledged by Head of service" in ack.stdout
    assert run(tmp_path, "ack", "999", "--by", "x").returncode == 2
    snooze = run(tmp_path, "snooze", "PI1", "--until", "2099-01-01", "--by", "Perf")
    assert snooze.returncode == 0 and "snoozed single_assessments_45wd" in snooze.stdout
    assert "in the future" in run(tmp_path, "snooze", "PI1", "--until", "2001-01-01").stderr
    assert "YYYY-MM-DD" in run(tmp_path, "snooze", "PI1", "--until", "soon").stderr


def test_digest_preview_and_send(tmp_path, smtp_server):
    env = {"KPI_ALERTS_EMAIL_URL": smtp_server.apprise_url}
    for name in ("kpi-2024-04.csv", "kpi-2024-05.csv"):
        run(tmp_path, "ingest", str(EXAMPLES / name), env_extra=env)
    assert run(tmp_path, "subscribe", "Scrutiny", "--email", "s@example.org", "--delivery", "digest",
               "--no-empty-digest", env_extra=env).returncode == 0
    out = tmp_path / "d.html"
    prev = run(tmp_path, "digest", "preview", "--subscriber", "1", "--week", "2099-W01", "--out", str(out),
               env_extra=env)
    assert prev.returncode == 0, prev.stderr
    assert prev.stdout.startswith("Weekly KPI digest 2099-W01:") and "PI1" in out.read_text()
    text = (tmp_path / "d.txt").read_text()  # the plain-text part, beside it
    assert text.startswith("kpi-alerts weekly digest, 2099-W01") and "\n- PI1 " in text and "<td" not in text
    assert not smtp_server.messages  # preview sends nothing
    bad = run(tmp_path, "digest", "preview", "--subscriber", "9", "--out", str(out), env_extra=env)
    assert bad.returncode == 2 and "no subscriber with id 9" in bad.stderr
    dry = run(tmp_path, "digest", "send", "--week", "2099-W01", "--dry-run", env_extra=env)
    assert "dry run: 1 digests for 2099-W01 composed, nothing sent" in dry.stdout and not smtp_server.messages
    assert run(tmp_path, "digest", "send", "--week", "2099-W01", env_extra=env).returncode == 0
    assert run(tmp_path, "digest", "send", "--week", "2099-W01", env_extra=env).returncode == 0  # again: no-op
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1
    assert "ISO week" in run(tmp_path, "digest", "send", "--week", "soon", env_extra=env).stderr
