"""What alert messages say (issue 10, sections 1 and 4), rendered without I/O: restatements named
as corrections with the ratings they withdraw, finance in pounds, caseloads by worker and team,
the email's own plain-text part, and the Teams Adaptive Card."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.notify.card import MAX_TEXT, card, text_of
from alerts.notify.changes import Superseded, build_change
from alerts.notify.group import group
from alerts.notify.render import render
from alerts.notify.route import route
from alerts.notify.wording import lead, subject_line
from alerts.templating import indicator_url, pounds
from rules.evaluate import derive
from rules.loader import SHIPPED_PACKS, load_catalog
from tests.notify.cards import facts, style, text
from tests.notify.test_stages import change, sub, worker

CATALOG = load_catalog(SHIPPED_PACKS)
BASE = "https://alerts.example.org"
EARLIER = dt.datetime(2024, 11, 5, 10, 30, tzinfo=dt.UTC)  # a Tuesday


def email_and_card(changes, base_url: str = BASE, routes=None):  # noqa: ANN001, ANN201
    """(the email, the card's content) for one subscriber taking everything."""
    groups = group(route(list(changes), routes or [sub()]), {1: ["email", "teams"]})
    email = render(groups[0], "Ann", base_url)
    teams = render(groups[1], "Ann", base_url)
    assert teams.html == "" and email.subject == teams.subject
    return email, json.loads(teams.text)["attachments"][0]["content"]


def containers(content: dict) -> list[dict]:
    return [b for b in content["body"] if b["type"] == "Container"]


def blocks(text: str) -> list[list[str]]:
    """The plain-text part's paragraphs, as lists of lines."""
    return [p.splitlines() for p in text.strip("\n").split("\n\n")]


# -- restatements ---------------------------------------------------------------------------------


def restated(**kw) -> dict:  # noqa: ANN003
    return dict(restates_return_id=3, restates_received=EARLIER, **kw)


def test_a_restatement_says_in_its_subject_and_first_line_which_return_it_corrects_and_what_it_withdraws():
    pi3 = change(1, "PI3", kind="resolved", frm="red", to="green", value=86.0,
                 **restated(superseded_value=72.0, superseded_rating="red"))
    pi1 = change(2, "PI1", kind="escalated", frm="amber", to="red", value=68.8,
                 **restated(superseded_value=71.9, superseded_rating="amber"))
    email, content = email_and_card([pi3, pi1])
    assert email.subject == "[RED] Sandwell: correction to the 2024-10 return: 2 KPIs changed"
    first = ("Correction: Sandwell's 2024-10 return was restated, replacing the one received Tue 5 Nov 2024; "
             "2 KPIs changed. The earlier ratings of PI1 (AMBER) and PI3 (RED) are withdrawn.")
    assert email.text.splitlines()[0] == first
    assert f"<strong>{first.replace(chr(39), '&#39;')}</strong>" in email.html.split("<p>Dear", 1)[0]  # before all else
    assert "Correction: PI3 was reported RED at 72%; corrected to 86%, GREEN: the earlier RED is withdrawn" \
        in email.text.splitlines()
    assert "Correction:</strong> PI3 was reported RED at 72%; corrected to 86%, GREEN: the earlier RED is withdrawn." \
        in email.html
    assert text(next(b for b in content["body"] if b.get("id") == "lead")) == first
    by_code = {text(box["items"][0]).split()[0]: facts(box) for box in containers(content)}
    assert by_code["PI3"]["Correction"] == "PI3 was reported RED at 72%; corrected to 86%, GREEN: the earlier RED is " \
                                           "withdrawn"


def test_one_withdrawn_rating_is_named_in_the_first_line_and_an_unchanged_rating_is_not_withdrawn():
    pi3 = change(1, "PI3", kind="resolved", frm="red", to="green", value=86.0,
                 **restated(superseded_value=72.0, superseded_rating="red"))
    assert lead([pi3]).endswith("1 KPI changed. The earlier RED of PI3 is withdrawn.")
    same = change(2, "PI1", kind="escalated", frm="amber", to="red", value=60.0,
                  **restated(superseded_value=68.8, superseded_rating="red"))
    assert not same.withdrawn and "withdrawn" not in lead([same])
    email, _ = email_and_card([same])
    assert "Correction: PI1 was reported RED at 68.8%; corrected to 60%, RED, the same rating" in email.text
    new = change(3, "PI5", **restated())  # the earlier return had no rating here
    assert "Correction: PI5 had no rating in the earlier return; now 68.8%, RED" in email_and_card([new])[0].text


def test_a_change_that_restates_nothing_reads_as_before():
    email, content = email_and_card([change(1, "PI1"), change(2, "PI2", to="amber")])
    assert email.subject == "[RED] Sandwell: 1 KPI in failure, 1 within tolerance in the 2024-10 return"
    assert email.text.splitlines()[0] == "Sandwell: 1 KPI in failure, 1 within tolerance in the 2024-10 return."
    assert "Correction" not in email.text + email.html and not any(b.get("id") == "lead" for b in content["body"])


def test_build_change_carries_what_the_restatement_replaced():
    event = dict(id=9, rule_id="repeat_cp_plans_2yr", provider="sandwell", subject="sandwell", team=None,
                 kind="resolved", from_state="red", to_state="green", period="2024-10", value=14.0, return_id=8)
    c = build_change(CATALOG, event, [("2024-09", "red", 25.0), ("2024-10", "green", 14.0)], None,
                     superseded=Superseded(3, EARLIER, 22.5, "red"))
    assert (c.restated, c.restates_return_id, c.superseded_value, c.withdrawn) == (True, 3, 22.5, "red")
    plain = build_change(CATALOG, event, [], None)
    assert not plain.restated and plain.withdrawn is None


# -- finance --------------------------------------------------------------------------------------

# alerts/examples/sandwell-2024-25/finance-2026-01.csv
FINANCE = {"contract_sum": 93_900_000.0, "other_income": 11_300_000.0, "ytd_budget": 94_080_000.0,
           "ytd_actual": 96_720_000.0, "forecast_outturn": 115_390_000.0}


def finance_change(rule_id: str, event_id: int, values: dict | None = None, **kw) -> object:  # noqa: ANN003
    measures = derive(CATALOG, "finance", "sandwell", values or FINANCE)
    event = dict(id=event_id, rule_id=rule_id, provider="sandwell", subject="sandwell", team=None, kind="opened",
                 from_state=None, to_state="red", period="2026-01", value=round(measures[rule_id], 2), return_id=5)
    event.update(kw)
    return build_change(CATALOG, event, [("2026-01", "red", event["value"])],
                        {"amber": "> 0 and <= 1", "green": "<= 0", "red": "> 1"}, measures=measures)


def test_finance_messages_lead_with_the_overspend_in_pounds_and_say_what_the_percentage_is_of():
    changes = [finance_change("forecast_overspend_pct", 1), finance_change("ytd_overspend_pct", 2)]
    email, content = email_and_card(changes)
    assert email.subject == "[RED] Sandwell: forecast overspend £10.19m (9.7%) in failure, 1 more (2026-01)"
    lines = email.text.splitlines()
    assert lines[0] == ("Sandwell: forecast overspend £10.19m (9.7%) in failure, year-to-date overspend £2.64m (2.8%) "
                        "in failure in the 2026-01 return.")
    assert "Value: forecast overspend £10.19m, 9.7% of funding (contract sum + other income)" in lines
    assert "Value: year-to-date overspend £2.64m, 2.8% of year-to-date budget" in lines
    for fact in ("Funding (contract sum + other income): £105.20m", "Forecast outturn (full-year spend): £115.39m",
                 "Contract sum (year): £93.90m", "Other income (grants, partner contributions): £11.30m",
                 "Bands: Target: 0% or less. Within tolerance: above 0% and 1% or less. Failure: above 1%."):
        assert fact in lines, fact
    assert "Forecast overspend £10.19m, 9.7% of funding (contract sum + other income)" in email.html
    assert "Funding (contract sum + other income): £105.20m" in email.html
    forecast = facts(containers(content)[0])
    assert forecast["Value"] == "forecast overspend £10.19m, 9.7% of funding (contract sum + other income)"
    assert forecast["Funding (contract sum + other income)"] == "£105.20m"  # as it is: a TextRun is no markdown


def test_an_underspend_and_a_finance_change_without_its_amounts_still_carry_their_unit():
    under = finance_change("forecast_overspend_pct", 1, {**FINANCE, "forecast_outturn": 104_700_000.0},
                           kind="resolved", from_state="red", to_state="green")
    assert subject_line([under]) == "[GREEN] Sandwell: forecast overspend -£500,000 (-0.5%) back on target"
    bare = build_change(CATALOG, dict(id=3, rule_id="forecast_overspend_pct", provider="sandwell", subject="sandwell",
                                      kind="reminder", from_state="red", to_state="red", period="2026-01", value=9.69,
                                      return_id=None), [], None)  # a reminder: no observations read
    assert subject_line([bare]) == "[RED] Sandwell: forecast overspend 9.7% still in failure (latest 2026-01)"
    email, _ = email_and_card([bare])
    assert "Value: forecast overspend 9.7% of funding (contract sum + other income)" in email.text.splitlines()


@pytest.mark.parametrize(("value", "text"), [(10_190_000, "£10.19m"), (-500_000, "-£500,000"), (0, "£0"),
                                             (-2_640_000, "-£2.64m"), (999_999.4, "£999,999")])
def test_pounds(value, text):
    assert pounds(value) == text


# -- caseloads ------------------------------------------------------------------------------------


def caseload(**kw) -> object:  # noqa: ANN003
    return worker(**{"name": "Caseload per social worker", "return_kind": "caseload", "period": "2025-03", **kw})


def caseload_changes() -> list:
    ws = [caseload(event_id=i, subject=f"sandwell/worker/SW-000{i}", team="tipton-rowley-ai-1", value=27.0,
                   thresholds={"ceiling": 22.0, "green": "<= 22", "amber": "> 22 and <= 26.4", "red": "> 26.4"})
          for i in (1, 2, 3)]
    team = caseload(event_id=4, rule_id="team_caseload", name="Average caseload per team", to="amber", value=23.17,
                    subject="sandwell/team/tipton-rowley-ai-1", team="tipton-rowley-ai-1", thresholds={"ceiling": 22.0})
    return [*ws, team]


def test_caseload_messages_count_workers_and_teams_and_name_each_worker_s_team():
    email, content = email_and_card(caseload_changes(), routes=[sub(tags=frozenset({"caseloads"}))])
    assert email.subject == "[RED] Sandwell: caseloads over the ceiling for 3 workers and 1 team (2025-03)"
    worker_block = next(b for b in blocks(email.text) if "Worker SW-0001" in b[0])
    assert worker_block[0] == "Caseload per social worker: Worker SW-0001, team tipton-rowley-ai-1"
    assert worker_block[1:3] == ["Rating: RED, in failure", "Value: 27 (ceiling 22)"]
    assert "<td>Worker SW-0001, team tipton-rowley-ai-1</td>" in email.html
    headings = [text(box["items"][0]) for box in containers(content)]
    assert headings == ["Caseload per social worker: Worker SW-0001, team tipton-rowley-ai-1",
                        "Caseload per social worker: Worker SW-0002, team tipton-rowley-ai-1",
                        "Caseload per social worker: Worker SW-0003, team tipton-rowley-ai-1",
                        "Average caseload per team: Team tipton-rowley-ai-1"]
    trust = caseload(event_id=5, rule_id="trust_average_caseload", subject="sandwell", team=None, to="amber",
                     value=23.0)
    assert subject_line([trust]) == "[AMBER] Sandwell: trust-wide average caseload 23 within tolerance (2025-03)"
    back = [caseload(event_id=6, kind="resolved", frm="amber", to="green"), trust]
    assert subject_line(back) == "[AMBER] Sandwell: trust-wide average caseload 23 within tolerance, 1 more"
    assert lead(back) == ("Sandwell: trust-wide average caseload 23 within tolerance, caseloads back within the "
                          "ceiling for 1 worker in the 2025-03 return.")  # the worse news first


# -- the plain-text part --------------------------------------------------------------------------


def test_the_plain_text_part_is_one_block_of_label_value_lines_per_change():
    cs = [change(i, f"PI{i}", thresholds={"green": ">= 85", "red": "<= 70"}, previous_period="2024-09",
                 previous_value=71.9, previous_rating="amber", months_outside_green=2, outside_green_since="2024-09")
          for i in (1, 2)]
    email, _ = email_and_card(cs)
    paragraphs = blocks(email.text)
    changes = [p for p in paragraphs if p[0].startswith("PI")]
    assert [p[0] for p in changes] == ["PI1 KPI PI1", "PI2 KPI PI2"]
    for p in changes:
        assert all(": " in line for line in p[1:]), p  # every line after the title is 'Label: value'
        labels = [line.split(": ", 1)[0] for line in p[1:]]
        assert labels == ["Rating", "Value", "Period", "Bands", "Previously", "Outside green", "Page"]
    assert changes[0][1:3] == ["Rating: RED, in failure", "Value: 68.8%"]
    assert changes[0][-1] == f"Page: {BASE}/indicators/key_PI1?provider=sandwell"
    assert "<" not in email.text  # no HTML in it


# -- the Teams card -------------------------------------------------------------------------------


def test_the_card_shows_each_change_with_its_rating_in_words_and_colour_and_separate_facts():
    cs = [change(1, "PI1", to="red", frm="amber", kind="escalated"), change(2, "PI2", to="amber"),
          change(3, "PI3", kind="resolved", frm="red", to="green")]
    _, content = email_and_card(cs)
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    title = content["body"][0]
    assert (title["id"], style(title)["color"]) == ("title", "attention")
    assert text(title) == "[RED] Sandwell: 1 KPI in failure, 1 within tolerance, 1 back on target"  # 78 at most
    ratings = [(text(box["items"][1]), style(box["items"][1])["color"]) for box in containers(content)]
    assert ratings == [("RED, in failure (was within tolerance)", "attention"), ("AMBER, within tolerance", "warning"),
                       ("GREEN, back on target (was in failure)", "good")]
    assert all(set(facts(box)) >= {"Value", "Period"} for box in containers(content))


def test_the_card_links_each_indicator_only_with_a_base_url():
    cs = [change(1, "PI1"), caseload(event_id=2)]
    routes = [sub(tags=frozenset({"caseloads", "safeguarding"}))]
    _, linked = email_and_card(cs, routes=routes)
    buttons = [a for box in containers(linked) for i in box["items"] if i["type"] == "ActionSet" for a in i["actions"]]
    assert [(a["type"], a["title"], a["url"]) for a in buttons] == [
        ("Action.OpenUrl", "Open PI1", f"{BASE}/indicators/key_PI1?provider=sandwell"),
        ("Action.OpenUrl", "Open Caseload per social worker",
         f"{BASE}/indicators/caseload?provider=sandwell&subject=sandwell%2Fworker%2FW0123")]
    assert linked["actions"] == [{"type": "Action.OpenUrl", "title": "Full status page", "url": f"{BASE}/status"}]
    _, bare = email_and_card(cs, base_url="", routes=routes)
    assert "Action.OpenUrl" not in json.dumps(bare) and "actions" not in bare


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400)


@given(st.integers(1, 120), names, st.booleans())
def test_the_card_body_holds_at_most_1000_characters_and_says_how_many_more(n, team, with_base):
    cs = [caseload(event_id=i, subject=f"sandwell/worker/{team}{i}", team=team, to="red" if i % 3 else "amber")
          for i in range(n)]
    content = card(tuple(cs), BASE if with_base else "")["attachments"][0]["content"]
    assert sum(text_of(b) for b in content["body"]) <= MAX_TEXT
    shown = len(containers(content))
    more = [b for b in content["body"] if b.get("id") == "more"]
    assert shown + (int(more[0]["text"].split()[1].replace(",", "")) if more else 0) == n
    assert bool(more) is (shown < n)
    if more:  # 'and 12 more changes: open the status page', the link where there is one
        assert more[0]["text"].endswith(f"[open the status page]({BASE}/status)" if with_base else "see the email")
    assert shown >= 1 or len(team) > 60  # a change fits unless its names are long
    assert len(json.dumps(content, ensure_ascii=False).encode()) < 35_000  # Apprise's template size limit


# names as returns and packs may hold them: any text without control characters (the parser refuses those)
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=60)


@given(st.lists(st.tuples(printable, printable), min_size=1, max_size=60))
def test_the_plain_text_part_reads_as_label_value_lines_whatever_the_names(rows):
    cs = [caseload(event_id=i, subject=f"sandwell/worker/{w}", team=t, name=f"Caseload {t}", to="red",
                   thresholds={"ceiling": 22.0, "green": "<= 22", "red": "> 22"}) for i, (w, t) in enumerate(rows)]
    email, _ = email_and_card(cs, routes=[sub(tags=frozenset({"caseloads"}))])
    changes = [p for p in blocks(email.text) if len(p) > 1 and p[1].startswith("Rating: ")]
    assert len(changes) == min(len(rows), 50)
    for p in changes:
        assert [line.split(": ", 1)[0] for line in p[1:]] == ["Rating", "Value", "Period", "Bands", "Page"]
        assert p[1:4] == ["Rating: RED, in failure", "Value: 68.8 (ceiling 22)", "Period: 2025-03"]


def test_the_card_is_a_workflows_message():
    doc = card((change(),))
    (attachment,) = doc["attachments"]
    assert doc["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["msteams"] == {"width": "Full"}


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40), st.text(max_size=40))
def test_indicator_urls_carry_the_indicator_provider_and_subject_exactly(indicator, provider, subject):
    url = indicator_url(BASE + "/", indicator, provider, subject)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE and parts.path.startswith("/indicators/")
    assert parts.path.count("/") == 2 and not parts.fragment
    query = parse_qs(parts.query, keep_blank_values=True)
    assert query["provider"] == [provider]
    assert query.get("subject") == ([subject] if subject and subject != provider else None)
    assert indicator_url("", indicator, provider) == ""


def test_the_card_counts_the_kpis_left_blank_and_names_them_in_the_room_left():
    blank = tuple((f"PI{i}", f"Indicator number {i} with a long name") for i in range(2, 16))
    few = card((change(1, "PI1", not_reported=blank[:1]),))["attachments"][0]["content"]["body"]
    assert few[-1]["id"] == "not-reported" and style(few[-1]) == {"isSubtle": True}
    assert text(few[-1]) == ("Not reported this period (2024-10): 1 indicator left blank, not rated: "
                             "PI2 Indicator number 2 with a long name")
    many = [change(i, f"PI{i}", not_reported=blank) for i in range(1, 31)]
    body = card(tuple(many))["attachments"][0]["content"]["body"]
    assert sum(text_of(b) for b in body) <= MAX_TEXT and body[-1]["id"] == "not-reported"
    assert text(body[-1]).startswith("Not reported this period (2024-10): 14 indicators left blank, not rated")
    assert any(b.get("id") == "more" for b in body)  # the changes came first; the names got the rest
