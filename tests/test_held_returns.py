"""Plausible mistakes are queries, not alerts (issue 17): a return with a value far outside its own
history, or last month's figures relabelled, is stored but held, nobody told, until confirmed,
corrected, or its hold hours pass. The example year is landed first (the `demo` fixture: mail to
the SMTP peer, links to an https base URL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts import steps
from alerts.store.db import session_for
from alerts.store.landing import claim_publication, pending_returns
from alerts.store.models import Delivery, ReturnRecord, utcnow
from alerts.usecases.signin import add_user
from tests.cli import make_cli
from tests.conftest import EXAMPLES, add_subscriber
from tests.notify import cards

MARCH = (EXAMPLES / "kpi-2025-03.csv").read_bytes()
TYPO = MARCH.replace(b"2025-03", b"2025-04").replace(b",86.4", b",18.6")  # PI1 typed 18.6 for 86.4
RIGHT = MARCH.replace(b"2025-03", b"2025-04").replace(b",86.4", b",85.1")  # the corrected file
RELABELLED = MARCH.replace(b"2025-03", b"2025-04")  # March's figures as April's
PI1_QUERY = ("18.6 is far outside PI1's last 12 months (68.8 to 86.4); confirm it or send a corrected file")


def cli_on(settings):  # noqa: ANN001, ANN201
    """`kpi-alerts` on the demo's database, mail and base URL."""
    run = make_cli(settings.database_url)
    opts = {k: getattr(settings, k) for k in ("email_url", "email_from", "base_url", "secret_key")}
    return lambda *args, **more: run(*args, **{**opts, **more})


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def deliveries(settings) -> list[Delivery]:  # noqa: ANN001
    with session_for(settings.database_url) as s:
        return list(s.execute(select(Delivery).order_by(Delivery.id)).scalars())


def stored(settings, return_id: int) -> ReturnRecord:  # noqa: ANN001
    with session_for(settings.database_url) as s:
        return s.get(ReturnRecord, return_id)


def red_subjects(smtp) -> list[str]:  # noqa: ANN001
    return [m["Subject"] for _, _, m in smtp.messages if m["Subject"].startswith("[RED]")]


def test_the_pi1_typo_is_held_sends_nothing_and_once_confirmed_the_red_goes_out(demo, tmp_path):
    settings, smtp = demo
    add_subscriber(settings, "Lead", "lead@example.org", min_severity="red")
    run = cli_on(settings)
    status_before = json.loads(run("status", "--json").stdout)
    typo = write(tmp_path, "kpi-2025-04.csv", TYPO)

    res = run("ingest", str(typo))
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert res.stderr.strip() == f"{typo}:2:value: query: {PI1_QUERY}"
    return_id = int(res.stdout.split("held return ")[1].split()[0])
    assert f"held return {return_id} (kpi, sandwell, 2025-04): 1 query" in res.stdout
    # nothing rated, nothing sent, nothing on the board: the false reds of the typo are 0
    assert deliveries(settings) == [] and smtp.messages == []
    assert json.loads(run("status", "--json").stdout) == status_before
    rec = stored(settings, return_id)
    assert rec.held_at is not None and rec.evaluated_at is None and rec.published_at is None
    assert rec.held_notified_at is not None  # the command line showed its queries: nobody is emailed
    assert rec.queries == [{"row": 2, "column": "value", "message": PI1_QUERY}]

    pending = json.loads(run("returns", "pending", "--json").stdout)
    assert [(p["id"], p["status"], p["queries"]) for p in pending] == [
        (return_id, "held", [f"{typo}:2:value: query: {PI1_QUERY}"])]
    table = run("returns", "pending").stdout
    assert "held" in table and f"kpi-alerts returns confirm {return_id} --by NAME" in table and PI1_QUERY in table

    done = run("returns", "confirm", str(return_id), "--by", "Jo Bloggs", "--note", "rang the trust: it is right")
    assert done.returncode == 0, done.stderr
    assert "opened" in done.stdout or "escalated" in done.stdout
    (_, to, msg), = smtp.wait_for(1)
    assert to == ["lead@example.org"] and msg["Subject"] == "[RED] Sandwell: 1 KPI in failure in the 2025-04 return"
    rec = stored(settings, return_id)
    assert (rec.confirmed_by, rec.confirm_note, rec.evaluated_at is not None) == (
        "Jo Bloggs", "rang the trust: it is right", True)
    assert json.loads(run("returns", "pending", "--json").stdout) == []
    again = run("returns", "confirm", str(return_id), "--by", "Jo Bloggs")
    assert again.returncode == 1 and "Jo Bloggs confirmed it already" in again.stderr
    assert run("returns", "confirm", "999", "--by", "Jo").returncode == 2


def test_last_months_file_relabelled_as_the_next_month_is_held(demo, tmp_path):
    settings, smtp = demo
    add_subscriber(settings, "Lead", "lead@example.org")
    run = cli_on(settings)
    april = write(tmp_path, "kpi-2025-04.csv", RELABELLED)
    res = run("ingest", "--json", str(april))
    assert res.returncode == 3
    body = json.loads(res.stdout)
    assert body["status"] == "held" and body["return"]["status"] == "held"
    assert body["queries"] == [f"{april}:2-16:period: query: all 15 values for 2025-04 equal 2025-03's: 2025-03's "
                               "figures relabelled? confirm it or send a corrected file"]
    assert (body["evaluations"], body["transitions"]) == ([], [])
    assert res.stderr.strip() == body["queries"][0]
    assert deliveries(settings) == [] and smtp.messages == []


def test_ingest_confirm_accepts_the_queries_up_front(demo, tmp_path):
    settings, smtp = demo
    add_subscriber(settings, "Lead", "lead@example.org", min_severity="red")
    res = cli_on(settings)("ingest", "--confirm", "--json", str(write(tmp_path, "kpi-2025-04.csv", TYPO)))
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert "status" not in body and body["return"]["status"] == "accepted" and len(body["evaluations"]) == 15
    assert body["queries"][0].endswith(PI1_QUERY) and res.stderr.strip().endswith(f"{PI1_QUERY} (confirmed)")
    smtp.wait_for(1)
    assert red_subjects(smtp) == ["[RED] Sandwell: 1 KPI in failure in the 2025-04 return"]
    rec = stored(settings, body["return"]["id"])
    assert rec.held_at is None and rec.confirmed_by.endswith("(command line)") and len(rec.queries) == 1


def test_ingesting_a_held_file_again_with_confirm_releases_it(demo, tmp_path):
    settings, smtp = demo
    add_subscriber(settings, "Lead", "lead@example.org", min_severity="red")
    run = cli_on(settings)
    typo = write(tmp_path, "kpi-2025-04.csv", TYPO)
    first = json.loads(run("ingest", "--json", str(typo)).stdout)
    again = run("ingest", "--json", str(typo))  # the same bytes: still held, nothing new
    assert again.returncode == 3 and json.loads(again.stdout)["return"]["id"] == first["return"]["id"]
    confirmed = run("ingest", "--confirm", "--json", str(typo))
    assert confirmed.returncode == 0, confirmed.stderr
    body = json.loads(confirmed.stdout)
    assert (body["return"]["id"], body["return"]["status"]) == (first["return"]["id"], "accepted")
    assert [t["to"] for t in body["transitions"]] == ["red"]
    smtp.wait_for(1)


def test_a_corrected_file_supersedes_the_held_one_which_is_never_rated(demo, tmp_path):
    settings, smtp = demo
    run = cli_on(settings)
    held = json.loads(run("ingest", "--json", str(write(tmp_path, "kpi-2025-04.csv", TYPO))).stdout)
    fixed = run("ingest", "--json", str(write(tmp_path, "kpi-2025-04-corrected.csv", RIGHT)))
    assert fixed.returncode == 0, fixed.stderr
    body = json.loads(fixed.stdout)
    assert body["return"]["status"] == "accepted" and len(body["evaluations"]) == 15
    old = stored(settings, held["return"]["id"])
    assert (old.superseded_by, old.evaluated_at) == (body["return"]["id"], None)
    assert json.loads(run("returns", "pending", "--json").stdout) == []
    refused = run("returns", "confirm", str(old.id), "--by", "Jo")
    assert refused.returncode == 1 and f"a corrected file (return {body['return']['id']}) replaced it" in refused.stderr
    pi1 = [r for r in json.loads(run("status", "--json").stdout) if r["code"] == "PI1"]
    assert [(r["period"], r["value"]) for r in pi1] == [("2025-04", 85.1)]


def test_a_held_return_blocks_neither_a_later_one_nor_the_relay(demo, tmp_path):
    settings, _ = demo
    run = cli_on(settings)
    held = json.loads(run("ingest", "--json", str(write(tmp_path, "kpi-2025-04.csv", TYPO))).stdout)["return"]["id"]
    may = RIGHT.replace(b"2025-04", b"2025-05")
    later = json.loads(run("ingest", "--json", str(write(tmp_path, "kpi-2025-05.csv", may))).stdout)
    assert later["return"]["evaluation"] == "done" and len(later["evaluations"]) == 15
    assert stored(settings, held).evaluated_at is None  # not rated on the way
    with session_for(settings.database_url) as s:
        assert claim_publication(s, utcnow(), utcnow()) == []  # the relay leaves it alone
        assert [r.id for r in pending_returns(s) if r.held] == [held]
    with pytest.raises(ValueError, match="held for confirmation"):
        steps.evaluate(settings, steps.InProcess(settings), held)


def test_after_the_hold_hours_it_is_released_and_every_message_says_not_confirmed(demo, tmp_path, teams_server):
    settings, smtp = demo
    add_subscriber(settings, "Lead", "lead@example.org", teams_server.url, min_severity="red")
    run = cli_on(settings)
    held = json.loads(run("ingest", "--json", str(write(tmp_path, "kpi-2025-04.csv", TYPO))).stdout)["return"]["id"]
    landed = stored(settings, held).held_at
    early = steps.holds(settings, steps.InProcess(settings), now=landed + dt.timedelta(hours=47, minutes=59))
    assert early["released"] == [] and smtp.messages == [] and stored(settings, held).evaluated_at is None
    done = steps.holds(settings, steps.InProcess(settings), now=landed + dt.timedelta(hours=48))
    assert done["released"] == [held]
    rec = stored(settings, held)
    assert rec.released_unconfirmed_at is not None and rec.evaluated_at is not None and rec.confirmed_at is None
    (_, _, msg), = smtp.wait_for(1)
    assert msg["Subject"] == "[RED] Sandwell, not confirmed by the sender: 1 KPI in failure (2025-04 return)"
    assert "not confirmed by the sender" in msg.get_body(("plain",)).get_content()
    assert "not confirmed by the sender" in msg.get_body(("html",)).get_content()
    card = teams_server.wait_for(1)[0]["json"]["attachments"][0]["content"]
    assert "not confirmed by the sender" in cards.text(card["body"][0])  # the title: the subject
    assert steps.holds(settings, steps.InProcess(settings), now=landed + dt.timedelta(hours=49))["released"] == []


def test_a_shorter_hold_is_a_setting(demo, tmp_path):
    settings, _ = demo
    short = settings.model_copy(update={"query_hold_hours": 2})
    held = json.loads(cli_on(settings)("ingest", "--json", str(write(tmp_path, "k.csv", TYPO))).stdout)
    landed = stored(settings, held["return"]["id"]).held_at
    assert steps.holds(short, steps.InProcess(short), now=landed + dt.timedelta(hours=2))["released"] == [
        held["return"]["id"]]


def test_returns_release_runs_the_holds_step(demo, tmp_path, clock):
    settings, _ = demo
    run = cli_on(settings)
    held = json.loads(run("ingest", "--json", str(write(tmp_path, "k.csv", TYPO))).stdout)["return"]["id"]
    out = run("returns", "release")
    assert out.returncode == 0 and out.stdout.strip() == (
        "released 0 held return(s) unconfirmed; told the performance team of 0")
    clock.shift(dt.timedelta(hours=48, minutes=1))
    out = run("returns", "release")
    assert out.returncode == 0 and out.stdout.strip() == (
        f"released 1 held return(s) unconfirmed: {held}; told the performance team of 0")


def performance_team(settings) -> None:  # noqa: ANN001
    with session_for(settings.database_url) as s:
        add_user(s, "perf@example.org", "performance", "Pat Perf", utcnow())
        add_user(s, "admin@example.org", "admin", "", utcnow())
        add_user(s, "viewer@example.org", "viewer", "Vic", utcnow())


def test_a_held_return_from_the_inbox_is_kept_with_its_queries_and_the_team_is_emailed_once(demo, tmp_path):
    settings, smtp = demo
    performance_team(settings)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "kpi-2025-04.csv").write_bytes(TYPO)
    s = settings.model_copy(update={"inbox_dir": inbox, "inbox_settle_seconds": 0})
    (outcome,) = steps.inbox_scan(s, steps.InProcess(s), wait=True)
    assert outcome.status == "held" and outcome.moved_to == "done/kpi-2025-04.csv"
    queries = (inbox / "done" / "kpi-2025-04.csv.queries.txt").read_text()
    assert queries == f"kpi-2025-04.csv:2:value: query: {PI1_QUERY}\n"
    return_id = outcome.result.landed.return_id
    messages = smtp.wait_for(2)
    assert sorted(to[0] for _, to, _ in messages) == ["admin@example.org", "perf@example.org"]  # not the viewer
    msg = next(m for _, to, m in messages if to == ["perf@example.org"])
    assert msg["Subject"] == "[QUERY] Sandwell: KPI return for 2025-04 held, 1 query to confirm"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Dear Pat Perf,") and "landed through the inbox folder" in text
    assert f"kpi-2025-04.csv:2:value: query: {PI1_QUERY}" in text
    assert f"https://alerts.example.org/returns/{return_id}" in text
    assert f'href="https://alerts.example.org/returns/{return_id}"' in msg.get_body(("html",)).get_content()
    assert steps.tell(settings) == [] and steps.holds(settings, steps.InProcess(settings))["told"] == []
    assert len(smtp.messages) == 2  # once
    assert deliveries(settings) == []  # no alert: nothing rated


def test_without_a_base_url_the_notice_says_there_is_no_link(demo, tmp_path):
    settings, smtp = demo
    performance_team(settings)
    bare = settings.model_copy(update={"base_url": ""})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "k.csv").write_bytes(TYPO)
    steps.inbox_scan(bare.model_copy(update={"inbox_dir": inbox, "inbox_settle_seconds": 0}),
                     steps.InProcess(bare), wait=True)
    text = smtp.wait_for(2)[0][2].get_body(("plain",)).get_content()
    assert "KPI_ALERTS_BASE_URL is not set, so this email has no link" in text and "https://" not in text


def test_a_notice_nobody_could_be_sent_is_tried_again(demo, tmp_path):
    settings, smtp = demo
    performance_team(settings)
    held = json.loads(cli_on(settings)("ingest", "--json", str(write(tmp_path, "k.csv", TYPO))).stdout)
    with session_for(settings.database_url) as s:  # as if it had landed by the API: nobody saw it
        s.execute(ReturnRecord.__table__.update().values(held_notified_at=None))
        s.commit()
    smtp.stop()
    assert steps.tell(settings) == []
    assert stored(settings, held["return"]["id"]).held_notified_at is None
    smtp.start()
    assert steps.tell(settings) == [held["return"]["id"]]
    assert len(smtp.wait_for(2)) == 2



def test_with_a_broker_a_held_return_is_never_published_until_confirmed(demo):
    from alerts.usecases.holds import confirm
    from alerts.usecases.ingest import ReturnLimits, ingest_bytes
    from rules.loader import load_catalog

    settings, _ = demo
    sent: list[tuple[str, tuple]] = []
    broker = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    to = steps.ToWorkers(broker, lambda name, args=(), **_: sent.append((name, tuple(args))))
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        result = ingest_bytes(s, catalog, "k.csv", TYPO, to.evaluate, utcnow(), 0.0,
                              limits=ReturnLimits.of(settings), told=True)
    assert result.held and sent == [] and to.publish_pending() == 0
    with session_for(settings.database_url) as s:
        done = confirm(s, catalog, result.landed.return_id, "Jo", None, utcnow(), to.evaluate, 0.0)
    assert not done.held and sent == [(steps.EVALUATE, (result.landed.return_id,))]
