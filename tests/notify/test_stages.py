"""The pure notify stages: route, group, mute, dedup, render; backoff; a week's reminders."""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.notify.changes import Change
from alerts.notify.filter import Silence, already_sent, keep, muted, reminded_this_week
from alerts.notify.group import group
from alerts.notify.inputs import Inputs
from alerts.notify.pipeline import compose
from alerts.notify.render import reminder_line, render, subject_line
from alerts.notify.retry import backoff_seconds
from alerts.notify.route import Route, route
from alerts.notify.unsubscribe import LINK_MARK
from tests.notify.cards import facts as card_facts
from tests.notify.cards import text

NOW = dt.datetime(2025, 4, 8, 9, 0, tzinfo=dt.UTC)


def change(event_id=1, code="PI1", kind="opened", to="red", frm=None, **kw) -> Change:
    base = dict(event_id=event_id, rule_id=f"rule_{code}", indicator=f"key_{code}", code=code, name=f"KPI {code}",
                unit="percent", tags=("safeguarding",), provider="sandwell", subject="sandwell", team=None,
                kind=kind, from_state=frm, to_state=to, period="2024-10", value=68.8, return_id=7)
    base.update(kw)
    return Change(**base)


def worker(**kw) -> Change:
    base = dict(code=None, rule_id="worker_caseload", indicator="caseload", unit="count",
                tags=("workforce", "caseloads"), subject="sandwell/worker/W0123", team="ai-1", to="red")
    base.update(kw)
    return change(**base)


def sub(sid=1, subscriber=1, **kw) -> Route:
    return Route(subscription_id=sid, subscriber_id=subscriber, **kw)


@pytest.mark.parametrize(
    ("routes", "c", "wanted"),
    [
        (sub(), change(to="amber"), True),
        (sub(min_severity="red"), change(to="amber"), False),
        (sub(min_severity="red"), change(to="red"), True),
        (sub(min_severity="red"), change(kind="resolved", frm="red", to="green"), True),  # a red resolving
        (sub(min_severity="red"), change(kind="resolved", frm="amber", to="green"), False),
        (sub(min_severity="red"), change(kind="deescalated", frm="red", to="amber"), True),  # leaves red
        (sub(min_severity="red"), change(kind="escalated", frm="amber", to="red"), True),
        (sub(min_severity="red"), change(kind="opened", to="amber"), False),
        # per-worker caseload rows: only through a team or the caseloads tag, never "everything"
        (sub(), worker(), False),
        (sub(min_severity="red"), worker(), False),
        (sub(tags=frozenset({"workforce"})), worker(), False),
        (sub(tags=frozenset({"caseloads"})), worker(), True),
        (sub(teams=frozenset({"ai-1"})), worker(), True),
        (sub(teams=frozenset({"cwcf-1"})), worker(), False),
        (sub(), worker(subject="sandwell/team/ai-1"), True),  # team and trust-wide rows as before
        (sub(), worker(subject="sandwell", team=None), True),
        (sub(tags=frozenset({"finance"})), change(), False),
        (sub(tags=frozenset({"finance", "safeguarding"})), change(), True),
        (sub(indicators=frozenset({"PI1"})), change(), True),
        (sub(indicators=frozenset({"key_PI1"})), change(), True),
        (sub(indicators=frozenset({"PI2"})), change(), False),
        (sub(providers=frozenset({"dudley"})), change(), False),
        (sub(teams=frozenset({"ai-1"})), change(team="ai-1"), True),
        (sub(teams=frozenset({"ai-1"})), change(team=None), False),
        (sub(transitions=frozenset({"opened"})), change(kind="escalated", frm="amber"), False),
        (sub(delivery="digest"), change(), False),
        (sub(delivery="both"), change(), True),
    ],
)
def test_route_filters(routes, c, wanted):
    assert bool(route([c], [routes])) is wanted


def test_one_message_per_subscriber_channel_return_worst_first():
    changes = [change(i, f"PI{i}", to="amber" if i % 2 else "red") for i in range(1, 16)]
    routed = route(changes, [sub(1, 1), sub(2, 1, tags=frozenset({"safeguarding"})), sub(3, 2)])
    assert len(routed) == 30  # two subscribers x 15; the overlapping subscription adds nothing
    groups = group(routed, {1: ["email", "teams"], 2: ["email"]})
    assert [(g.subscriber_id, g.channel, len(g.changes)) for g in groups] == [(1, "email", 15), (1, "teams", 15),
                                                                             (2, "email", 15)]
    states = [c.to_state for c in groups[0].changes]
    assert states == sorted(states, key=lambda s: s != "red")
    assert [c.code for c in groups[0].changes][:3] == ["PI2", "PI4", "PI6"]
    assert groups[0].key != groups[1].key and groups[0].key == group(routed, {1: ["email", "teams"]})[0].key


def mute(groups, silences, now):  # noqa: ANN001, ANN201
    return keep(groups, Inputs(now, silences=silences), (muted,))


def dedup(groups, logged):  # noqa: ANN001, ANN201
    return keep(groups, Inputs(NOW, logged=frozenset(logged)), (already_sent,))


def test_mute_and_dedup_drop_changes_and_empty_groups():
    groups = group(route([change(1, "PI1"), change(2, "PI2")], [sub()]), {1: ["email"]})
    muted_groups = mute(groups, [Silence("rule_PI1", None, NOW + dt.timedelta(days=1))], NOW)
    assert [c.code for c in muted_groups[0].changes] == ["PI2"]
    assert mute(groups, [Silence("rule_PI1", None, NOW)], NOW) == groups  # expired: no effect
    assert mute(groups, [Silence("rule_PI1", "other", NOW + dt.timedelta(days=1))], NOW) == groups
    assert dedup(muted_groups, {(2, 1, "email")}) == []
    assert dedup(groups, {(1, 1, "teams")}) == groups


def test_the_pipeline_is_route_group_then_one_filter_with_both_predicates():
    changes = [change(1, "PI1"), change(2, "PI2"), change(3, "PI3")]
    inputs = Inputs(NOW, routes=[sub(1, 1), sub(2, 2, min_severity="red")], channels={1: ["email"], 2: ["teams"]},
                    silences=[Silence("rule_PI1", None, NOW + dt.timedelta(days=1))],
                    logged=frozenset({(2, 2, "teams")}))
    groups = compose(changes, inputs)
    assert [(g.subscriber_id, g.channel, [c.code for c in g.changes]) for g in groups] == [
        (1, "email", ["PI2", "PI3"]), (2, "teams", ["PI3"])]  # PI1 muted for all; PI2 already sent to 2


def reminder(event_id=1, code="PI1", **kw) -> Change:
    return change(event_id, code, kind="reminder", frm="red", return_id=None, **kw)


def test_a_weeks_reminders_are_one_message_per_subscriber_and_channel():
    cs = [reminder(1, "PI1"), reminder(2, "PI3"), reminder(3, "PI13")]
    groups = group(route(cs, [sub()]), {1: ["email", "teams"]}, "2025-W15")
    assert [(g.channel, g.batch, len(g.changes)) for g in groups] == [
        ("email", "reminders-2025-W15", 3), ("teams", "reminders-2025-W15", 3)]
    assert groups[0].key.startswith("reminders-2025-W15.s1.email.")


def test_a_subscriber_reminded_this_week_gets_no_second_reminder_on_that_channel():
    cs = [reminder(4, "PI1"), change(5, "PI2")]  # a reminder, and a return's change in its own batch
    routed = route(cs, [sub(1, 1), sub(2, 2)])
    groups = group(routed, {1: ["email", "teams"], 2: ["email"]}, "2025-W15")
    kept = keep(groups, Inputs(NOW, reminded=frozenset({(1, "email")})), (reminded_this_week,))
    assert {(g.subscriber_id, g.channel, g.batch) for g in groups} - {
        (g.subscriber_id, g.channel, g.batch) for g in kept} == {(1, "email", "reminders-2025-W15")}
    inputs = Inputs(NOW, routes=[sub(1, 1)], channels={1: ["email"]}, reminder_week="2025-W15",
                    reminded=frozenset({(1, "email")}))
    assert [g.batch for g in compose(cs, inputs)] == ["return-7"]  # the composed pipeline drops it too


NOV_15 = dt.date(2024, 11, 15)


@pytest.mark.parametrize(("kw", "line"), [
    (dict(red_since="2024-10"), "still in failure since 2024-10"),
    (dict(red_since="2024-10", next_period="2024-10", next_due=NOV_15, next_state="upcoming"),
     "still in failure since 2024-10; the next return is due 15 Nov"),
    (dict(red_since="2024-10", next_period="2024-11", next_due=dt.date(2024, 12, 15), next_state="due"),
     "still in failure since 2024-10; the 2024-11 return was due 15 Dec and has not landed yet"),
    (dict(red_since="2024-10", next_period="2024-11", next_due=dt.date(2024, 12, 15), next_state="missing"),
     "still in failure since 2024-10; the 2024-11 return is missing (due 15 Dec)"),
    (dict(red_since="2024-10", to="amber"), "still within tolerance since 2024-10"),
    (dict(red_since="2024-10", period="2025-01"), "still in failure since 2024-10, latest 2025-01"),
    (dict(red_since="2024-10", period="2025-01", newest_period="2025-01"),
     "still in failure since 2024-10, latest 2025-01"),
    (dict(red_since="2024-10", newest_period="2024-12"),
     "still in failure since 2024-10, latest 2024-10; not in the newer returns (up to 2024-12)"),
    (dict(red_since="2024-10", acknowledged=("Head of service", "2024-11-20", "Recovery plan agreed at OPB")),
     "still in failure since 2024-10; acknowledged by Head of service on 2024-11-20: Recovery plan agreed at OPB"),
    (dict(red_since="2024-10", acknowledged=("Jo", "2024-11-20", None)),
     "still in failure since 2024-10; acknowledged by Jo on 2024-11-20"),
])
def test_a_reminder_says_since_when_and_what_newer_returns_showed(kw, line):
    assert reminder_line(reminder(**kw)) == line
    assert "red" not in line  # never 'RED, still red (was red)'


def test_a_reminder_email_and_card_say_what_they_are_and_escape_the_note():
    cs = [reminder(1, "PI1", red_since="2024-10", period="2025-01",
                   acknowledged=("Jo <b>", "2025-01-20", "plan [here](http://x)")),
          reminder(2, "PI3", red_since="2024-11")]
    email, card = (render(g, "Ann") for g in group(route(cs, [sub()]), {1: ["email", "teams"]}, "2025-W15"))
    assert email.subject == "[RED] Sandwell: 2 KPIs still in failure (latest period 2025-01)"
    assert "A reminder: 2 of the alerts you subscribe to are still in failure" in email.html
    assert "still in failure since 2024-10, latest 2025-01; acknowledged by Jo &lt;b&gt; on 2025-01-20" in email.html
    assert "still in failure since 2024-11" in email.html and "<b>" not in email.html
    assert "A return has just changed" not in email.html
    assert "RED, still in failure" in email.text and "(was red)" not in email.text + email.html
    boxes = [b for b in json.loads(card.text)["attachments"][0]["content"]["body"] if b["type"] == "Container"]
    reminders = [card_facts(b)["Reminder"] for b in boxes]
    assert reminders == ["still in failure since 2024-10, latest 2025-01; acknowledged by Jo <b> on 2025-01-20: "
                         "plan [here](http://x)", "still in failure since 2024-11"]  # TextRuns: never markdown
    assert all(b["items"][2]["type"] == "RichTextBlock" for b in boxes)
    assert "Reminder: still in failure since 2024-11" in email.text.splitlines()
    assert email.text.splitlines()[4].startswith("A reminder: 2 of the alerts you subscribe to are still in failure.")


def test_subject_lines():
    assert subject_line((change(1, "PI1"), change(2, "PI2", to="amber"))) == \
        "[RED] Sandwell: 1 KPI in failure, 1 within tolerance in the 2024-10 return"
    assert subject_line((change(1, kind="resolved", frm="amber", to="green"),)) == \
        "[GREEN] Sandwell: 1 KPI back on target in the 2024-10 return"
    mixed = (change(1, "PI1"), change(2, code=None, kind="deescalated", frm="red", to="amber"))
    assert subject_line(mixed) == "[RED] Sandwell: 1 alert in failure, 1 now within tolerance (2024-10 return)"
    april = [change(i, f"PI{i}", to="red" if i < 3 else "amber", period="2024-04") for i in range(1, 11)]
    assert subject_line(april) == "[RED] Sandwell: 2 KPIs in failure, 8 within tolerance in the 2024-04 return"


@given(st.lists(st.sampled_from([("opened", None, "red"), ("opened", None, "amber"), ("escalated", "amber", "red"),
                                 ("deescalated", "red", "amber"), ("resolved", "amber", "green"),
                                 ("resolved", "red", "green")]), min_size=1, max_size=40),
       st.sampled_from(["Sandwell", "Birmingham children's trust community interest company ltd"]))
def test_a_subject_is_78_characters_at_most_counts_every_change_and_leads_with_the_worst(moves, provider):
    key = provider.lower().replace(" ", "-")
    cs = [change(i, f"PI{i}", kind=k, frm=f, to=t, provider=key, subject=key) for i, (k, f, t) in enumerate(moves, 1)]
    subject = subject_line(cs)
    assert len(subject) <= 78 and "breach" not in subject
    worst = max((t for *_, t in moves), key=["green", "amber", "red"].index)
    assert subject.startswith(f"[{worst.upper()}] ")
    if len(provider) > 20:
        return  # a long name leaves room for less; it is cut before a count is
    said = re.sub(r"( in the \d{4}-\d{2} return| \(\d{4}-\d{2}( return)?\))$", "", subject.split(": ", 1)[1])
    clauses = said.split(", ")
    assert sum(int(c.split()[0]) for c in clauses) == len(moves)  # every change counted, said or 'N more'
    lead = {"red": ("in failure",), "amber": ("within tolerance", "now within tolerance"), "green": ("back on target",)}
    assert clauses[0].endswith(lead[worst])


def test_render_escapes_hostile_names_and_shows_the_facts():
    c = change(name="<script>alert(1)</script>", subject='sandwell/team/"><img src=x onerror=alert(1)>',
               thresholds={"green": ">= 85", "amber": "> 70 and < 85", "red": "<= 70"}, previous_period="2024-09",
               previous_value=71.9, previous_rating="amber", months_outside_green=7, outside_green_since="2024-04",
               comparators=(("statistical_neighbour", 80.1, "2024-03"),), frm="amber", kind="escalated")
    msg = render(group(route([c], [sub()]), {1: ["email"]})[0], "Ann <Chair>")
    assert "<script" not in msg.html and "<img" not in msg.html
    assert "&lt;script&gt;" in msg.html and "Ann &lt;Chair&gt;" in msg.html
    for fact in ("PI1", "68.8%", "2024-10", "85% or more", "above 70% and below 85%", "71.9% (amber, 2024-09)",
                 "7 months (since 2024-04)", "statistical neighbour 80.1%"):
        assert fact in msg.html, fact
        assert html.unescape(fact) in msg.text, fact  # the plain-text part: text/plain, shown as written
    card = json.loads(render(group(route([c], [sub()]), {1: ["teams"]})[0], "Ann <Chair>").text)
    (box,) = [b for b in card["attachments"][0]["content"]["body"] if b["type"] == "Container"]
    facts = card_facts(box)
    assert box["items"][0]["type"] == "RichTextBlock"  # a TextRun: never markdown, so nothing escaped
    assert text(box["items"][0]) == 'PI1 <script>alert(1)</script>: Team "><img src=x onerror=alert(1)>'
    assert facts["Value"] == "68.8%"


def test_a_teams_card_shows_each_change_in_its_own_container_with_one_fact_a_line():
    cs = [change(event_id=i, code=f"PI{i}", months_outside_green=i, outside_green_since="2024-08") for i in (1, 2, 3)]
    content = json.loads(render(group(route(cs, [sub()]), {1: ["teams"]})[0], "Ann").text)["attachments"][0]["content"]
    boxes = [b for b in content["body"] if b["type"] == "Container"]
    assert [text(b["items"][0]) for b in boxes] == ["PI1 KPI PI1", "PI2 KPI PI2", "PI3 KPI PI3"]
    facts = [card_facts(b) for b in boxes]
    assert [f["Outside green"] for f in facts] == ["1 month (since 2024-08)", "2 months (since 2024-08)",
                                                    "3 months (since 2024-08)"]


def test_an_email_lists_the_worst_50_changes_and_says_how_many_more():
    changes = [worker(event_id=i, subject=f"sandwell/worker/SW-{i:05d}", to="red" if i < 60 else "amber")
               for i in range(20_000)]
    msg = render(group(route(changes, [sub(tags=frozenset({"caseloads"}))]), {1: ["email"]})[0], "Head of service")
    assert msg.html.count("Worker SW-") == 50 and msg.text.count(": Worker SW-") == 50
    assert all(f"SW-{i:05d}" in msg.html for i in range(50))  # the worst first: the red ones
    assert "And 19,950 more changes</strong>, less severe than the 50 above" in msg.html
    assert "And 19,950 more changes, less severe than the 50 above (kpi-alerts status lists them)." in msg.text
    assert len(msg.html.encode()) < 100_000  # was 5.9 MB for 20,000 workers
    assert msg.subject == "[RED] Sandwell: 60 alerts in failure, 19940 within tolerance (2024-10 return)"


def test_notification_email_footer_carries_the_unsubscribe_placeholder_only_with_a_base_url():
    c = change()
    email, teams = (group(route([c], [sub()]), {1: [ch]})[0] for ch in ("email", "teams"))
    msg = render(email, "Ann", "https://alerts.example.org")
    assert (f"You receive this because of your kpi-alerts subscriptions. Unsubscribe: "
            f'<a href="{LINK_MARK}">{LINK_MARK}</a>') in msg.html  # deliver signs and fills it at send time
    assert msg.text.endswith(f"Unsubscribe: {LINK_MARK}\n")  # the plain-text part: deliver fills both parts
    card = render(teams, "Ann", "https://alerts.example.org")
    assert LINK_MARK not in card.html + card.text
    plain = render(email, "Ann")  # no base URL: no link to make, nothing left for anyone to fill
    assert LINK_MARK not in plain.html and "Sent by kpi-alerts because you subscribed" in plain.html


@pytest.mark.parametrize(("attempts", "low", "high"), [(1, 30, 60), (2, 60, 120), (3, 120, 240), (4, 240, 480),
                                                     (5, 450, 900), (6, 450, 900), (8, 450, 900), (0, 30, 60)])
def test_backoff_doubles_from_the_base_up_to_the_cap_with_equal_jitter(attempts, low, high):
    """Defaults (60 s base, 900 s cap): waits within [d/2, d] of 60, 120, 240, 480, 900, 900 ..."""
    waits = [backoff_seconds(attempts, 60, 900, random.Random(seed)) for seed in range(200)]
    assert all(low <= w <= high for w in waits)
    assert min(waits) < low + (high - low) * 0.1 and max(waits) > high - (high - low) * 0.1  # jitter spans it


class _Edge(random.Random):
    def __init__(self, at: float):
        super().__init__()
        self.at = at

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.at


@given(st.integers(1, 30), st.floats(1, 120), st.floats(60, 1800), st.sampled_from([0.0, 0.5, 1.0]))
def test_backoff_never_exceeds_the_cap_and_never_falls_below_half_the_base(attempts, base, cap, at):
    wait = backoff_seconds(attempts, base, cap, _Edge(at))
    assert min(base, cap) / 2 <= wait <= cap
    assert wait <= base * 2 ** (attempts - 1)  # never more than the un-jittered exponential


def test_default_backoff_spends_half_to_one_hour_over_eight_attempts():
    for at, total in ((1.0, 3600), (0.0, 1800)):
        assert sum(backoff_seconds(n, 60, 900, _Edge(at)) for n in range(1, 8)) == total  # the 7 waits of 8


def test_group_is_per_return():
    a, b = change(1, return_id=7), replace(change(2, "PI2"), return_id=8)
    assert len(group(route([a, b], [sub()]), {1: ["email"]})) == 2
