"""Issue 11, section 6, on the production shape run natively (tests/e2e/stack.py): redis-server,
PostgreSQL, the API under uvicorn, two Celery workers, beat, an SMTP sink and the HTTPS Teams
stand-in. A return with breaches reaches each subscriber once; a worker killed with -9 in the
middle of a large evaluation, Redis stopped while ten returns are uploaded, PostgreSQL restarted
mid-run, and two beats: nothing lost, nothing doubled. Every wait is a poll with a deadline;
every process is stopped whatever happens. (The same return uploaded 20 times at once, SMTP down
then back, and two restatements racing: tests/e2e/test_faults.py.)"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import EXAMPLES, ROOT, _land_year
from tests.e2e.services import BIN, CeleryBeat, clean_env
from tests.e2e.stack import Stack
from tests.notify.cards import text as card_text
from tests.peers import poll
from tests.peers.postgres import running_cluster
from tests.peers.teams import card

pytestmark = pytest.mark.e2e
RETURN = EXAMPLES / "kpi-2024-10.csv"  # Sandwell, October 2024: two red KPIs open, amber ones too


@pytest.fixture(scope="module")
def cluster():
    """This module's own PostgreSQL cluster: one test restarts it."""
    with running_cluster() as pg:
        yield pg


@pytest.fixture
def stack(tmp_path, cluster):
    made: list[Stack] = []

    def start(**kwargs) -> Stack:
        made.append(Stack(tmp_path, cluster, **kwargs))
        return made[-1]

    yield start
    for s in made:
        s.close()


def one_row_returns(count: int, value: str = "60") -> list[tuple[str, bytes]]:
    """`count` KPI returns for as many providers, PI1 red in each: every one opens an alert."""
    return [(f"p{i:02d}.csv", f"provider,period,indicator,value\nstack{i:02d},2024-10,PI1,{value}\n".encode())
            for i in range(count)]


def caseload_return(workers: int, period: str = "2025-03") -> bytes:
    """A large caseload return: `workers` social workers across three services, every tenth ASYE,
    caseloads 10-29 (thousands over their ceiling)."""
    services = ("assessment_intervention", "court_child_protection", "children_we_care_for")
    lines = ["provider,period,team,service,worker,asye,caseload"]
    lines += [f"sandwell,{period},team-{i // 20:04d},{services[i % 3]},SW-{i:06d},{str(i % 10 == 0).lower()},"
              f"{10 + (i * 7) % 20}" for i in range(workers)]
    return ("\n".join(lines) + "\n").encode()


def assert_each_sent_once(s: Stack) -> None:
    assert s.sql("SELECT status, count(*) FROM deliveries GROUP BY status") == [
        ("sent", s.sql("SELECT count(*) FROM deliveries")[0][0])]
    emails = s.smtp.by_notification_id()
    assert emails and set(emails.values()) == {1}, emails
    cards = Counter(card_text(card(r)["body"][0]) for r in s.teams.delivered())
    assert len(s.teams.delivered()) == len(s.teams.requests)  # nothing refused, nothing retried
    assert sum(cards.values()) == s.sql("SELECT count(*) FROM deliveries WHERE channel = 'teams'")[0][0]


def test_a_return_with_breaches_reaches_each_subscriber_once_by_email_and_teams(stack):
    s = stack()
    s.cli("subscribe", "Lead", "--email", "lead@example.org", "--teams", s.teams.url, "--min-severity", "red")
    s.cli("subscribe", "Head of service", "--email", "head@example.org", "--indicator", "single_assessments_45wd")
    s.cli("subscribe", "Scrutiny board", "--email", "board@example.org", "--delivery", "digest")

    answer = s.upload(RETURN.name, RETURN.read_bytes(), wait=60)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["return"]["status"], body["return"]["evaluation"]) == ("accepted", "done")
    red = {t["rule"] for t in body["transitions"] if t["to"] == "red"}
    assert red == {"single_assessments_45wd", "supervision_8wk"}

    s.smtp.wait_for(2, timeout=60)
    s.teams.wait_for(1, timeout=60)
    s.wait_settled(60)
    recipients = sorted(to[0] for _, to, _ in s.smtp.messages)
    assert recipients == ["head@example.org", "lead@example.org"]  # the board takes the digest only
    assert all(m["Subject"].startswith("[RED] Sandwell:") for _, _, m in s.smtp.messages)
    (request,) = s.teams.requests
    assert "Sandwell" in str(card(request))
    assert_each_sent_once(s)
    # the workers did it, not the API: the 201 came from a process that only landed and published
    assert "kpi_alerts.evaluate_return" in s.logs() and "kpi_alerts.deliver" in s.logs()


def _rated(rows: list[tuple]) -> set[tuple]:
    return {tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows}


RATED = "SELECT rule_id, subject, period, value, rating FROM ratings WHERE current"
ALERTS = "SELECT rule_id, subject, state, period, value FROM alerts"
EVENTS = "SELECT rule_id, subject, from_state, to_state, kind, period FROM alert_events"


def test_a_worker_killed_mid_evaluation_the_other_finishes_it_as_a_clean_run_would(stack, tmp_path):
    """kill -9 while the evaluation's transaction is open (its claim taken, nothing committed):
    PostgreSQL rolls it back, the relay re-publishes the return once its publication is stale
    (KPI_ALERTS_RELAY_STALE_SECONDS=8 here), and the other worker rates it. Redis would also
    hand the unacknowledged message back after its visibility timeout; by then it is a no-op."""
    s = stack(relay_stale_seconds="8")
    s.cli("subscribe", "Lead", "--email", "lead@example.org", "--teams", s.teams.url)
    data = caseload_return(20_000)
    answer = s.upload("caseload-2025-03.csv", data)
    assert answer.status_code == 201 and answer.json()["return"]["evaluation"] == "pending", answer.text

    def evaluating() -> object | None:
        busy = [w for w in s.workers if "kpi_alerts.evaluate_return[" in w.log.read_text()]
        return busy[0] if len(busy) == 1 and s.claim_held(answer.json()["return"]["id"]) else None

    victim = poll(evaluating, 60, "a worker in the middle of the evaluation")
    victim.kill()
    assert s.sql("SELECT count(*) FROM ratings") == [(0,)]  # nothing of it was committed
    survivor = next(w for w in s.workers if w is not victim)
    s.wait_settled(180, "the other worker rating the return and sending its notifications")
    assert "kpi_alerts.evaluate_return[" in survivor.log.read_text()
    # the relay (a task on the survivor, every second from beat) re-published it once it was stale
    assert re.search(r"Task kpi_alerts\.relay\[[^]]+\] succeeded in [0-9.e-]+s: 1\n", survivor.log.read_text())

    clean_db = tmp_path / "clean.db"  # the same return, rated in one go in the embedded default
    (tmp_path / "clean.csv").write_bytes(data)
    done = subprocess.run([str(BIN / "kpi-alerts"), "ingest", str(tmp_path / "clean.csv")], cwd=tmp_path,
                          env=clean_env(database_url=f"sqlite:///{clean_db}"), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(clean_db) as conn:
        clean_ratings, clean_alerts = conn.execute(RATED).fetchall(), conn.execute(ALERTS).fetchall()
        clean_events = conn.execute(EVENTS).fetchall()
    conn.close()
    assert len(clean_alerts) > 1000  # thousands of workers over their ceiling: the comparison says something
    assert _rated(s.sql(RATED)) == _rated(clean_ratings)
    assert _rated(s.sql(ALERTS)) == _rated(clean_alerts)
    assert Counter(s.sql(EVENTS)) == Counter(clean_events)  # each transition once
    assert_each_sent_once(s)
    assert len(s.smtp.messages) == 1 and len(s.teams.requests) == 1  # one message for the return, per channel


def test_redis_stopped_ten_uploads_answered_201_then_all_evaluated_and_notified_once(stack):
    s = stack()
    s.cli("subscribe", "Lead", "--email", "lead@example.org", "--teams", s.teams.url)
    s.stop_redis()
    answers = [s.upload(name, data) for name, data in one_row_returns(10)]
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert {a.json()["return"]["evaluation"] for a in answers} == {"pending"}
    assert s.sql("SELECT count(*) FROM returns WHERE evaluated_at IS NULL AND published_at IS NULL") == [(10,)]

    s.start_redis()
    s.wait_settled(180, "all ten rated and notified once Redis is back")
    assert s.sql("SELECT count(*) FROM alerts WHERE state = 'red'") == [(10,)]
    s.smtp.wait_for(10, timeout=30)
    s.teams.wait_for(10, timeout=30)
    assert_each_sent_once(s)
    assert len(s.smtp.messages) == 10 and len(s.teams.requests) == 10
    subjects = [m["Subject"].lower() for _, _, m in s.smtp.messages]
    assert all(sum(f"stack{i:02d}" in subject for subject in subjects) == 1 for i in range(10)), subjects
    assert s.beat.proc.poll() is None, s.beat.log.read_text()[-3000:]  # beat rode out the outage
    assert "beat: Redis unreachable (ConnectionError)" in s.beat.log.read_text()


def test_postgresql_restarted_mid_run_every_task_retries_and_finishes(stack, cluster):
    s = stack()
    s.cli("subscribe", "Lead", "--email", "lead@example.org", "--teams", s.teams.url)
    answers = [s.upload(name, data) for name, data in one_row_returns(10)]
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    rated_before = s.sql("SELECT count(*) FROM returns WHERE evaluated_at IS NOT NULL")[0][0]
    cluster.restart()  # every connection cut, a few hundred milliseconds of refusals
    print(f"PostgreSQL restarted with {rated_before} of 10 returns rated")
    s.wait_settled(180, "all ten rated and notified after the restart")
    assert s.sql("SELECT count(*) FROM alerts WHERE state = 'red'") == [(10,)]
    assert s.sql("SELECT count(*) FROM alert_events") == [(10,)]
    s.smtp.wait_for(10, timeout=30)
    s.teams.wait_for(10, timeout=30)
    assert_each_sent_once(s)
    assert len(s.smtp.messages) == 10 and len(s.teams.requests) == 10
    assert s.cli("db", "current").returncode == 0  # and the API still answers after it
    assert s.upload("again.csv", one_row_returns(1, value="95")[0][1], wait=60).status_code == 201


def test_two_beats_on_the_stack_send_each_digest_reminder_overdue_alert_and_landing_once(stack, tmp_path):
    """Both beats on a one-second schedule (tests/e2e/fast_beat.py: digest, reminders, the
    missing-returns check, the inbox scan and the relay every second), against the example year
    landed in February 2026, so months of returns are missing now: one beat holds RedBeat's
    lock; the digest ledger, the reminders' week batch, the overdue alerts' state and the inbox's
    claim keep it all to one of each. When the holder stops, the other takes over and sends
    nothing twice."""
    today = str(dt.datetime.now(ZoneInfo("Europe/London")).weekday())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "walsall-2024-10.csv").write_bytes(RETURN.read_bytes().replace(b"sandwell", b"walsall"))

    def prepare(st: Stack) -> None:  # before beat's first tick: the week's reminder batch runs once
        _land_year(st.url)
        for name in ("Lead", "Board"):
            st.cli("subscribe", name, "--email", f"{name.lower()}@example.org", "--delivery", "both",
                   "--min-severity", "red", "--provider", "sandwell")

    s = stack(beat_app="tests.e2e.fast_beat", prepare=prepare, reminder_weekday=today, digest_weekday=today,
              inbox_dir=str(inbox), inbox_settle_seconds="0.5")
    second = CeleryBeat(s.workdir, s.env, ROOT, name="beat-2", app="tests.e2e.fast_beat")
    s.started.append(second)

    def kinds(to: str) -> Counter:
        return Counter("digest" if " digest " in m["Subject"] else "reminder" if "still in failure" in m["Subject"]
                       else "other" for _, rcpt, m in s.smtp.messages if rcpt == [to])

    def each_has_digest_and_reminder() -> bool:
        return all(kinds(f"{n}@example.org")["digest"] and kinds(f"{n}@example.org")["reminder"]
                   for n in ("lead", "board"))

    poll(each_has_digest_and_reminder, 120, "each subscriber's digest and reminder")
    poll(lambda: (inbox / "done" / "walsall-2024-10.csv").exists(), 60, "the inbox file landed")
    logs = [s.beat.log, second.log]
    poll(lambda: max(log.read_text().count("Sending due task returns-check") for log in logs) >= 4, 30,
         "the schedule running again and again")
    senders = [log for log in logs if "Sending due task" in log.read_text()]
    assert len(senders) == 1, [log.read_text()[-2000:] for log in logs]  # one effective scheduler
    holder, standby = senders[0], next(log for log in logs if log is not senders[0])
    s.wait_settled(60)
    before = list(s.smtp.messages)

    # the holder stops (releasing the lock): the standby takes over, and sends nothing twice
    (s.beat if holder == s.beat.log else second).stop()
    poll(lambda: standby.read_text().count("Sending due task returns-check") >= 3, 60, "the standby taking over")
    s.wait_settled(60)
    assert s.smtp.messages == before  # nothing more was due
    print("\n".join(f"{rcpt[0]}: {m['Subject']}" for _, rcpt, m in s.smtp.messages))
    for n in ("lead", "board"):
        assert kinds(f"{n}@example.org") == Counter(digest=1, reminder=1, other=kinds(f"{n}@example.org")["other"])
    overdue = s.sql("SELECT rule_id, subject FROM alerts WHERE rule_id LIKE 'return_overdue_%%' AND state = 'red'")
    opened = s.sql("SELECT rule_id, subject FROM alert_events WHERE rule_id LIKE 'return_overdue_%%' "
                   "AND kind = 'opened'")
    assert overdue and sorted(opened) == sorted(overdue)  # each missing return's alert opened once
    assert s.sql("SELECT count(*) FROM returns WHERE provider = 'walsall'") == [(1,)]
    assert not (inbox / "rejected").exists() or not any((inbox / "rejected").iterdir())
    assert_each_sent_once(s)
