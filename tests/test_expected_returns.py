"""Expected returns: the pure calendar (submitted, late, missing, not due), the packs' due days,
`returns calendar`, and a missing return as a red alert that reaches a subscriber once and
resolves when the return lands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from alerts import steps
from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import Alert, AlertEvent, Delivery
from config import Settings, use_settings
from rules.calendar import Deadline, calendar, deadline, expectation, missing_periods, status
from rules.check import check_packs
from rules.loader import SHIPPED_PACKS, load_catalog
from rules.model import Pack, PackSettings, ReturnDue
from tests.conftest import add_subscriber, kpi_csv
from tests.ingesting import ingest_bytes

UTC = dt.UTC
D = dt.date


# --- the pure calendar -----------------------------------------------------------------------


def test_a_period_is_due_on_the_due_day_of_the_next_month_and_missing_after_the_grace():
    assert deadline("2024-10", ReturnDue(due_day=15, grace_days=5)) == Deadline(D(2024, 11, 15), D(2024, 11, 20))
    assert deadline("2024-12", ReturnDue(due_day=1)) == Deadline(D(2025, 1, 1), D(2025, 1, 1))
    assert deadline("2025-01", ReturnDue(due_day=28, grace_days=3)) == Deadline(D(2025, 2, 28), D(2025, 3, 3))


def test_the_four_statuses_at_their_edges():
    when = Deadline(D(2024, 11, 15), D(2024, 11, 20))
    assert status(when, None, D(2024, 11, 20)) == "not_due"  # the last day of grace
    assert status(when, None, D(2024, 11, 21)) == "missing"
    assert status(when, D(2024, 11, 15), D(2024, 11, 15)) == "submitted"  # on the due day: in time
    assert status(when, D(2024, 11, 16), D(2024, 11, 16)) == "late"
    assert status(when, D(2024, 12, 1), D(2024, 12, 2)) == "late"  # late, not missing, once it lands
    assert status(when, D(2024, 12, 1), D(2024, 11, 30)) == "missing"  # as of before it landed


days = st.integers(0, 120)


@given(st.integers(1, 28), st.integers(0, 60), st.one_of(st.none(), days), days)
def test_status_follows_the_landing_the_due_day_and_the_grace(due_day, grace, landed, as_of_offset):
    when = deadline("2024-10", ReturnDue(due_day=due_day, grace_days=grace))
    base = D(2024, 10, 1)
    as_of = base + dt.timedelta(days=as_of_offset)
    landed_on = base + dt.timedelta(days=landed) if landed is not None else None
    got = status(when, landed_on, as_of)
    if landed_on is not None and landed_on <= as_of:
        assert got == ("submitted" if landed_on <= when.due else "late")
    else:
        assert got == ("missing" if as_of > when.missing_after else "not_due")
    later = status(when, landed_on, as_of + dt.timedelta(days=1))  # never back to not_due
    assert not (got in ("submitted", "late", "missing") and later == "not_due")


def test_the_shipped_packs_expect_each_kind_by_its_day():
    catalog = load_catalog(SHIPPED_PACKS)
    assert expectation(catalog, "sandwell", "kpi", "2024-10") == ReturnDue(due_day=15, grace_days=5)
    assert expectation(catalog, "sandwell", "kpi", "2019-10") == ReturnDue(due_day=15, grace_days=5)
    assert expectation(catalog, "sandwell", "kpi", "2023-01") is None  # no suite in force: none expected
    assert expectation(catalog, "sandwell", "finance", "2023-01") == ReturnDue(due_day=20, grace_days=5)
    assert expectation(catalog, "sandwell", "caseload", "2025-03") == ReturnDue(due_day=15, grace_days=5)
    assert set(catalog.calendar_rules) == {"kpi", "finance", "caseload"}
    assert catalog.rules_by_id["return_overdue_kpi"].rule.tags == ["returns"]
    # a calendar rule is nothing a return carries or is rated against
    assert "return_overdue_kpi" not in catalog.measures
    assert all(b.rule.rated_by == "return" for b in catalog.rules_for("kpi", "sandwell"))


def test_return_due_day_is_still_the_kpi_due_day_of_a_suite_without_returns():
    pack = Pack(pack="p", title="t", suite="x", settings=PackSettings(return_due_day=10))
    assert pack.expected_returns == {"kpi": ReturnDue(due_day=10, grace_days=0)}
    assert Pack(pack="q", title="t").expected_returns == {}  # no suite, no returns: expects none
    with pytest.raises(ValueError, match="return_due_day 10 and returns.kpi.due_day 15 disagree"):
        PackSettings(return_due_day=10, returns={"kpi": ReturnDue(due_day=15)})


def at(day: D, hour: int = 9) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_the_calendar_runs_from_the_first_period_landed_to_last_month():
    catalog = load_catalog(SHIPPED_PACKS)
    landed = {("sandwell", "kpi"): {"2024-10": at(D(2024, 11, 13)), "2024-12": at(D(2025, 1, 17))},
              ("walsall", "finance"): {"2024-11": at(D(2024, 12, 20))}}
    rows = calendar(catalog, landed, D(2025, 2, 18))
    got = [(r.provider, r.kind, r.period, r.status) for r in rows]
    assert got == [("walsall", "finance", "2024-11", "submitted"), ("walsall", "finance", "2024-12", "missing"),
                   ("walsall", "finance", "2025-01", "not_due"),
                   ("sandwell", "kpi", "2024-10", "submitted"), ("sandwell", "kpi", "2024-11", "missing"),
                   ("sandwell", "kpi", "2024-12", "late"), ("sandwell", "kpi", "2025-01", "not_due")]
    assert rows[3].landed_at == at(D(2024, 11, 13)) and rows[4].landed_at is None
    assert missing_periods(rows) == {("walsall", "finance"): ["2024-12"], ("sandwell", "kpi"): ["2024-11"]}
    # read on an earlier day, a return landed since has not landed yet
    earlier = calendar(catalog, landed, D(2025, 1, 10), providers=["sandwell"])
    assert [(r.period, r.status) for r in earlier] == [("2024-10", "submitted"), ("2024-11", "missing"),
                                                       ("2024-12", "not_due")]


# --- rules check -------------------------------------------------------------------------------


def write_packs(tmp_path: Path, *texts: str) -> Path:
    for i, text in enumerate(texts):
        (tmp_path / f"p{i}.yaml").write_text(text)
    return tmp_path


CALENDAR_RULE = """
  - id: {id}
    rated_by: {by}
    name: KPI return missing
    kind: kpi
    unit: count
    polarity: lower_is_better
    tags: [returns]
    versions:
      - effective_from: 2018-04-01
        basis: pack
        bands: {{green: [{{lte: 0}}], red: [{{gt: 0}}]}}
"""


def test_rules_check_names_a_misnamed_or_missing_calendar_rule(tmp_path):
    expects = "pack: a\ntitle: A\nsettings:\n  returns:\n    kpi: {due_day: 15}\n    finance: {due_day: 20}\n"
    cal = "pack: b\ntitle: B\nrules:" + CALENDAR_RULE.format(id="return_overdue_kpi", by="calendar")
    _, problems = check_packs(write_packs(tmp_path, expects, cal))
    assert [p.message for p in problems] == [
        "settings.returns.finance: no rule return_overdue_finance (rated_by: calendar) for a missing return to open"]
    assert problems[0].line == 6
    bad = "pack: c\ntitle: C\nrules:" + CALENDAR_RULE.format(id="return_overdue_kpis", by="calendar")
    squat = "pack: d\ntitle: D\nrules:" + CALENDAR_RULE.format(id="return_overdue_finance", by="return")
    (tmp_path / "second").mkdir()
    _, problems = check_packs(write_packs(tmp_path / "second", bad, squat))
    messages = [p.message for p in problems]
    assert "rule return_overdue_kpis: a calendar rule is named return_overdue_kpi (after its kind, kpi)" in messages
    assert any(m.startswith("rule return_overdue_finance: ids starting return_overdue_ are the expected-returns")
               for m in messages)


def test_rules_check_refuses_a_bad_due_day(tmp_path):
    _, problems = check_packs(write_packs(tmp_path, "pack: a\ntitle: A\nsettings:\n  returns:\n"
                                                    "    kpi: {due_day: 31}\n"))
    assert problems and "due_day" in problems[0].message


# --- a missing return as an alert, end to end ---------------------------------------------------

OCT_LANDS = at(D(2024, 11, 13))


@pytest.fixture
def env(tmp_path, smtp_server):
    s = Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}", broker_url="", rules_dir=SHIPPED_PACKS,
                 email_url=smtp_server.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5)
    use_settings(s)
    yield s, smtp_server
    use_settings(None)


def land(when: dt.datetime, name: str, rows: list[tuple[str, str, str]]):
    with time_machine.travel(when, tick=True):
        result = ingest_bytes(name, kpi_csv(rows))
    assert not result.errors
    return result


def check(settings, when: dt.datetime) -> int:
    with time_machine.travel(when, tick=True):
        return steps.returns_check(settings, dispatcher_for(settings))


def overdue(settings) -> tuple[Alert | None, list[AlertEvent]]:
    with session_for(settings.database_url) as s:
        alert = s.execute(select(Alert).where(Alert.rule_id == "return_overdue_kpi")).scalar_one_or_none()
        events = s.execute(select(AlertEvent).where(AlertEvent.rule_id == "return_overdue_kpi")
                           .order_by(AlertEvent.id)).scalars().all()
        return alert, list(events)


def test_a_missing_return_opens_a_red_alert_once_and_its_landing_resolves_it(env):
    settings, smtp = env
    add_subscriber(settings, "Commissioning lead", "lead@example.org", min_severity="red")
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "90")])  # green: no alert of its own
    assert check(settings, at(D(2024, 12, 20))) == 0  # 2024-11 due 15 Dec, grace to 20 Dec: not yet
    assert check(settings, at(D(2024, 12, 21))) == 1
    [(_, to, msg)] = smtp.wait_for(1)
    assert to == ["lead@example.org"]
    assert msg["Subject"] == "[RED] Sandwell: KPI return for 2024-11 missing"
    text = msg.get_body(("plain",)).get_content()
    assert "Due: Sun 15 Dec 2024; missing after Fri 20 Dec 2024" in text and "1 return missing (2024-11)" in text
    alert, events = overdue(settings)
    assert alert is not None and (alert.state, alert.period, alert.value) == ("red", "2024-11", 1.0)
    assert [(e.kind, e.from_state, e.to_state) for e in events] == [("opened", None, "red")]
    # the check again, the next day and the one after: nothing opens twice, nothing is sent again
    assert check(settings, at(D(2024, 12, 21), 10)) == 0
    assert check(settings, at(D(2024, 12, 22))) == 0
    assert len(overdue(settings)[1]) == 1
    # the return lands (late): the alert resolves, and the subscriber hears it with the return
    result = land(at(D(2024, 12, 23)), "nov.csv", [("2024-11", "PI1", "0")])  # a 0 is a submission
    assert [(t.rule_id, t.kind) for t in result.outcome.transitions] == [("single_assessments_45wd", "opened"),
                                                                         ("return_overdue_kpi", "resolved")]
    second = smtp.wait_for(2)[1][2]  # one message for the return: the KPI it puts in failure, and the resolution
    assert second["Subject"] == "[RED] Sandwell: 1 KPI in failure, KPI return for 2024-11 received (2024-11)"
    alert, events = overdue(settings)
    assert alert.state == "green" and [e.kind for e in events] == ["opened", "resolved"]
    assert events[1].return_id == result.landed.return_id
    assert check(settings, at(D(2024, 12, 24))) == 0
    with session_for(settings.database_url) as s:
        assert len(s.execute(select(Delivery)).scalars().all()) == 2


def test_a_return_with_a_blank_value_is_submitted(env):
    settings, _ = env
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "90")])
    land(at(D(2024, 12, 10)), "nov.csv", [("2024-11", "PI1", "")])  # not reported, but submitted
    assert check(settings, at(D(2025, 1, 2))) == 0
    assert overdue(settings) == (None, [])


def test_the_check_opens_again_after_a_resolution_and_counts_what_is_missing(env):
    settings, smtp = env
    add_subscriber(settings, "Returns team", "returns@example.org", tags=["returns"])
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "90")])
    check(settings, at(D(2024, 12, 21)))
    check(settings, at(D(2025, 1, 21)))  # 2024-12 missing too: the alert follows, no second event
    alert, events = overdue(settings)
    assert (alert.state, alert.since_period, alert.period, alert.value) == ("red", "2024-11", "2024-12", 2.0)
    assert [e.kind for e in events] == ["opened"]
    land(at(D(2025, 1, 22)), "nov.csv", [("2024-11", "PI1", "90")])  # one of two: stays red
    assert overdue(settings)[0].state == "red" and overdue(settings)[0].value == 1.0
    land(at(D(2025, 1, 23)), "dec.csv", [("2024-12", "PI1", "90")])
    assert overdue(settings)[0].state == "green"
    check(settings, at(D(2025, 2, 21)))  # 2025-01 missing: opened again
    assert [e.kind for e in overdue(settings)[1]] == ["opened", "resolved", "opened"]
    assert [m["Subject"] for _, _, m in smtp.wait_for(3)] == [
        "[RED] Sandwell: KPI return for 2024-11 missing",
        "[GREEN] Sandwell: KPI return for 2024-12 received",
        "[RED] Sandwell: KPI return for 2025-01 missing"]


# --- the command line ------------------------------------------------------------------------


def test_returns_calendar_table_and_json(cli, tmp_path):
    oct_csv = tmp_path / "oct.csv"
    oct_csv.write_bytes(kpi_csv([("2024-10", "PI1", "90")]))
    with time_machine.travel(OCT_LANDS, tick=False):
        assert cli("ingest", str(oct_csv)).returncode == 0
    ran = cli("returns", "calendar", "--as-of", "2024-12-21", "--json")
    assert ran.returncode == 0
    assert json.loads(ran.stdout) == [
        {"provider": "sandwell", "kind": "kpi", "period": "2024-10", "due": "2024-11-15",
         "missing_after": "2024-11-20", "status": "submitted", "landed_at": "2024-11-13T09:00:00+00:00"},
        {"provider": "sandwell", "kind": "kpi", "period": "2024-11", "due": "2024-12-15",
         "missing_after": "2024-12-20", "status": "missing", "landed_at": None}]
    table = cli("returns", "calendar", "--as-of", "2024-12-10", "--provider", "sandwell").stdout
    lines = [line for line in table.splitlines() if "sandwell" in line]
    assert "provider" in table and "landed_at" in table
    assert [line.split("│")[1:6] for line in lines] == [
        [" sandwell ", " kpi  ", " 2024-10 ", " 2024-11-15 ", " submitted "],
        [" sandwell ", " kpi  ", " 2024-11 ", " 2024-12-15 ", " not_due   "]]
    assert cli("returns", "calendar", "--provider", "walsall", "--as-of", "2024-12-10").stdout.startswith(
        "no returns expected")
    assert cli("returns", "calendar", "--as-of", "21/12/2024").returncode == 2


def test_the_digest_lists_the_missing_return_and_its_alert(env):
    from alerts.digest.load import load_week

    settings, _ = env
    land(OCT_LANDS, "oct.csv", [("2024-10", "PI1", "90")])
    check(settings, at(D(2024, 12, 21)))  # a Saturday: the digest of 2024-W52 covers that week
    with session_for(settings.database_url) as s:
        week = load_week(s, load_catalog(SHIPPED_PACKS), "2024-W52", "Europe/London")
    assert [(e.rule_id, e.kind, e.tags) for e in week.events] == [("return_overdue_kpi", "opened", ("returns",))]
    assert [(o.provider, o.kind, o.period, o.due, o.earlier) for o in week.overdue] == [
        ("sandwell", "kpi", "2024-11", D(2024, 12, 15), 0)]
