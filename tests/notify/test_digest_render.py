"""The digest's two parts and its size: compact bars, the row cap, the plain-text part, the
unsubscribe placeholder. Pure parts are tested directly; the rest over the demo data."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.digest.compose import (
    DigestModel,
    NotReported,
    Overdue,
    Point,
    Row,
    WeekData,
    WeekEvent,
    position_sentence,
    routed,
    select_rows,
)
from alerts.digest.compose import compose as compose_digest
from alerts.digest.render import render_digest
from alerts.digest.run import compose_for, plan_digests
from alerts.notify.route import Route
from alerts.notify.unsubscribe import LINK_MARK
from alerts.store.db import session_for
from alerts.store.models import Delivery, utcnow
from alerts.templating import RAG, bars, environment, fmt_value
from config import Settings
from rules.loader import load_catalog
from tests.conftest import NEXT_WEEK
from tests.notify.test_digest import add, compose

RATINGS = ("green", "amber", "red", None)


def row(i: int, rating: str | None, previous: str | None = None, values: tuple[float, ...] = ()) -> Row:
    latest = Point("2025-03", 1.0, rating)
    series = tuple(Point(f"2024-{m + 1:02d}", v, rating) for m, v in enumerate(values)) or (
        (Point("2025-02", 1.0, previous), latest) if previous else (latest,))
    return Row(rule_id=f"r{i}", indicator=f"i{i}", code=f"PI{i}", name=f"KPI {i}", unit="%",
               polarity="higher_is_better", tags=(), provider="p", subject="p", team=None, thresholds={},
               series=series)


class _Bars(HTMLParser):
    """The bars as a mail client sees them: (height, colour) of each coloured cell, and the
    hover title of each bar's outer cell."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[int, str]] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "td" and "bgcolor" in a:
            self.cells.append((int(a["height"]), a["bgcolor"]))
            assert a["class"] == "b" and a["width"] == "6"  # font-size/line-height 0: Outlook keeps tiny bars tiny
        elif tag == "td" and "title" in a:
            assert a["valign"] == "bottom"
            self.titles.append(a["title"])


def test_bars_are_proportional_and_coloured_by_rating():
    values = (10.0, 20.0, 40.0, 0.0, 5.0)
    r = Row(rule_id="r", indicator="i", code="PI1", name="n", unit="%", polarity="higher_is_better", tags=(),
            provider="p", subject="p", team=None, thresholds={},
            series=tuple(Point(f"2024-0{i + 1}", v, rt) for i, (v, rt) in enumerate(
                zip(values, ("green", "amber", "red", None, "green"), strict=True))))
    parser = _Bars()
    parser.feed(str(bars(r, height=28)))
    assert [h for h, _ in parser.cells] == [7, 14, 28, 2, 4]  # height 28 x value / max; never below 2 px
    assert [c for _, c in parser.cells] == [RAG["green"], RAG["amber"], RAG["red"], "#9e9e9e", RAG["green"]]
    assert parser.titles == ["2024-01: 10", "2024-02: 20", "2024-03: 40", "2024-04: 0", "2024-05: 5"]
    assert len(str(bars(r))) < 5 * 150 + 80  # lean: a digest holds twelve of these per indicator


def test_bar_titles_are_escaped():
    r = replace(row(1, "red"), series=(Point('2024-01"><script>x</script>', 3.5, "red"), Point("2024-02", 7.0, "red")))
    html = str(bars(r))
    assert "<script>" not in html
    parser = _Bars()
    parser.feed(html)
    assert parser.titles == ['2024-01"><script>x</script>: 3.5', "2024-02: 7"]  # read back as written
    assert [h for h, _ in parser.cells] == [14, 28]


@given(st.lists(st.tuples(st.sampled_from(RATINGS), st.sampled_from(RATINGS)), max_size=60),
       st.integers(min_value=0, max_value=70))
def test_row_cap_keeps_the_worst_in_table_order(spec, cap):
    rows = [row(i, rating, previous) for i, (rating, previous) in enumerate(spec)]
    shown = select_rows(rows, cap)
    hidden = [r for r in rows if r not in shown]
    assert len(shown) + len(hidden) == len(rows) and len(set(map(id, shown))) == len(shown)  # a subset, once each
    if cap == 0:
        assert shown == rows  # 0: no cap
        return
    assert len(shown) == min(cap, len(rows))
    assert [rows.index(r) for r in shown] == sorted(rows.index(r) for r in shown)  # the table's own order
    reds = [r for r in rows if r.latest.rating == "red"]
    if len(reds) <= cap:
        assert all(r in shown for r in reds)  # every red shown while they fit
    rank = {"red": 0, "amber": 1}

    def level(r: Row) -> int:
        changed = r.previous is not None and r.previous.rating != r.latest.rating
        return rank.get(r.latest.rating or "", 2 if changed else 3)
    if hidden:
        assert max(map(level, shown)) <= min(map(level, hidden))  # nothing hidden outranks anything shown


def test_position_sentence_reads_right_for_one_and_none():
    assert position_sentence(Counter(green=10, amber=5)) == "10 KPIs on target, 5 within tolerance, none in failure"
    assert position_sentence(Counter(green=1, red=2)) == "1 KPI on target, none within tolerance, 2 in failure"
    assert position_sentence(Counter()) == "no KPIs on target, none within tolerance, none in failure"


def test_text_part_carries_the_same_facts_as_the_html(demo):
    settings, _ = demo
    d = compose(settings, add(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    subject, html, text = render_digest(d, "https://alerts.example.org", LINK_MARK)
    assert "10 KPIs on target, 5 within tolerance, none in failure" in text
    for r in d.kpis:
        line = next(x for x in text.splitlines() if x.startswith(f"- {r.code} "))
        value = fmt_value(r.latest.value, r.unit)
        assert r.name in line and r.latest.period in line and r.latest.rating.upper() in line and value in line
        html_row = html[html.index(f"<strong>{r.code}</strong>"):]
        html_row = html_row[:html_row.index("</tr>")]
        assert value in html_row and f">{r.latest.rating.upper()}</span>" in html_row
    assert "overspend £10.19m (9.7%)" in text and "/worker/" not in text  # no worker rows without a team or tag
    event = re.compile(r"\(\d{4}-\d{2}\), (RED|AMBER|GREEN), ")
    said = [x for x in text.splitlines() if x.startswith("- ") and event.search(x)]
    assert len(said) == len(d.events)  # each event: '..., RED, in failure (was within tolerance)'
    assert all(x.endswith(e.words) for x, e in zip(said, d.events, strict=True))
    assert "Full status page: https://alerts.example.org/status" in text
    assert f"Unsubscribe: {LINK_MARK}" in text and f'href="{LINK_MARK}"' in html
    _, html2, text2 = render_digest(d)  # no base URL: no link, no placeholder left for anyone to fill
    assert LINK_MARK not in html2 + text2 and "status page" not in text2.lower()
    assert "<" not in text.replace("<=", "").replace("< ", "")  # plain text, no markup


def test_capped_digest_says_what_it_hides_and_counts_everything(demo):
    settings, _ = demo
    sid = add(settings, "Chief executive", "ceo@example.org", delivery="digest")
    full = compose(settings, sid, max_rows=0)
    capped = compose(settings, sid, max_rows=4)
    assert capped.headline == full.headline and capped.counts == full.counts  # the headline counts every indicator
    assert (capped.kpi_total, len(capped.kpis), capped.hidden) == (15, 4, 11)
    assert [r.latest.rating for r in capped.kpis] == ["amber"] * 4  # 5 amber, none red: 4 of them shown
    assert [r.code for r in capped.kpis] == [r.code for r in full.kpis if r in capped.kpis]  # table order
    subject, html, text = render_digest(capped, "https://alerts.example.org")
    assert subject == render_digest(full)[0]
    assert ("Showing 4 of 15 indicators, red and amber first; the other 11 are on the "
            '<a href="https://alerts.example.org/status">status page</a>.') in html
    assert "Showing 4 of 15 indicators, red and amber first; the other 11 are on the status page: " \
           "https://alerts.example.org/status." in text
    _, html_local, text_local = render_digest(capped)  # no base URL: the CLI instead
    assert "the other 11 are on the status page (<code>kpi-alerts status</code>)." in html_local
    assert "the other 11 are on the status page (kpi-alerts status)." in text_local
    default = compose(settings, sid)
    _, html_all, _ = render_digest(default)
    assert "indicators, red and amber first" not in html_all  # 15 rows fit under the default cap
    assert full.events_total > 25 and len(default.events) == 25  # the demo year's events did not
    assert f"Showing 25 of {full.events_total} alert events, the most severe" in html_all
    assert all(e.severity >= 2 for e in default.events if e.to_state == "red")


def test_showing_line_for_a_national_audience_uses_thousands_separators():
    start = dt.datetime(2025, 3, 17, tzinfo=dt.UTC)
    kpis = [row(i, "red") for i in range(25)]
    d = DigestModel("Chief executive", "2025-W12", start, start + dt.timedelta(days=7), kpis, [], [], [], [], [],
                    counts=Counter(red=40, amber=300, green=1955), kpi_total=2295)
    _, html, text = render_digest(d, "https://alerts.example.org/")
    line = "Showing 25 of 2,295 indicators, red and amber first; the other 2,270 are on the "
    assert line + '<a href="https://alerts.example.org/status">status page</a>.' in html
    assert line + "status page: https://alerts.example.org/status." in text
    assert "1955 KPIs on target, 300 within tolerance, 40 in failure" in text  # counts all, not the 25 shown


def _three_providers(d: DigestModel) -> list[Row]:
    return [replace(r, provider=f"{r.provider}-{i}", subject=f"{r.subject}-{i}") for i in range(3) for r in d.kpis]


def test_a_digest_at_the_caps_stays_under_gmails_clipping_size(demo):
    settings, _ = demo
    cap = Settings.model_fields["digest_max_rows"].default
    d = compose(settings, add(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    assert len(d.events) == cap  # the demo year's events fill the events cap
    rows = _three_providers(d)  # 45 indicators: three providers' worth, at the default cap
    big = replace(d, kpis=select_rows(rows, cap), kpi_total=len(rows))
    _, html, text = render_digest(big, "https://alerts.example.org", LINK_MARK)
    assert len(html.encode()) < 102 * 1024, len(html.encode())  # Gmail clips HTML over 102 KB
    assert len(text.encode()) < 20 * 1024


def test_rows_are_lean(demo):
    settings, _ = demo
    d = compose(settings, add(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    env = environment()
    sizes = [len(env.get_template("digest_row.html").render(r=r, providers_shown=2).encode()) for r in d.kpis]
    # was 3,660 with 250-byte bars; twelve bars of about 145 bytes now, plus the year-to-date line
    # and the comparators (about 2,300 before those two)
    assert max(sizes) < 2600, sizes
    _, html, _ = render_digest(replace(d, kpis=_three_providers(d)[:20], kpi_total=20))
    # a 20-row digest: 100 KB before; the budget keeps it well under Gmail's 102 KB clip (62 KiB
    # since issue 17 names returns for people: 'Sandwell KPI return for 2024-10')
    assert len(html.encode()) < 62 * 1024


def test_unsubscribe_placeholder_is_in_planned_digests_only_with_a_base_url(demo):
    settings, _ = demo
    with_url = add(settings, "With", "with@example.org", delivery="digest")
    without = add(settings, "Without", "without@example.org", delivery="digest")
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        plan_digests(s, catalog, NEXT_WEEK, settings.timezone, utcnow(), [with_url], "https://alerts.example.org")
        plan_digests(s, catalog, NEXT_WEEK, settings.timezone, utcnow(), [without], "")
        bodies = {sid: (html, text) for sid, html, text in s.execute(
            select(Delivery.subscriber_id, Delivery.body_html, Delivery.body_text))}
    html, text = bodies[with_url]
    assert f'<a href="{LINK_MARK}">Unsubscribe</a>' in html and f"Unsubscribe: {LINK_MARK}" in text
    assert text.startswith("kpi-alerts weekly digest") and "YOUR INDICATORS" in text  # the text part, not the headline
    html, text = bodies[without]
    assert LINK_MARK not in html + text and "YOUR INDICATORS" in text


def test_week_rows_render_once_per_run():
    cache: dict = {}
    r = row(1, "red", values=tuple(float(v) for v in range(1, 13)))
    start = dt.datetime(2025, 3, 17, tzinfo=dt.UTC)
    d = DigestModel("A", "2025-W12", start, start + dt.timedelta(days=7), [r], [], [], [], [], [],
                    counts=Counter(red=1), kpi_total=1)
    render_digest(d, cache=cache)
    assert len(cache) == 2  # the row once as HTML and once as text
    render_digest(d, cache=cache)
    assert len(cache) == 2


def test_digest_events_are_routed_by_the_notify_router_as_digest_deliveries():
    """The digest takes an event exactly when the router's Route.wants would for a digest
    delivery: transitions, severity and scope filter both the same way."""
    start = dt.datetime(2025, 3, 17, tzinfo=dt.UTC)

    def event(kind: str, to: str, frm: str | None = None, provider: str = "p") -> WeekEvent:
        return WeekEvent(at=start, kind=kind, rule_id="r1", indicator="i1", code="PI1", name="KPI 1", tags=("t",),
                         provider=provider, subject=provider, team=None, from_state=frm, to_state=to,
                         period="2025-02", value=1.0, unit="%")

    events = (event("opened", "amber"), event("opened", "red"), event("escalated", "red", "amber"),
              event("resolved", "green", "red"), event("opened", "red", provider="q"))
    week = WeekData("2025-W12", start, start + dt.timedelta(days=7), (row(1, "red"),), events, (), ())
    picky = Route(1, 1, providers=frozenset({"p"}), transitions=frozenset({"opened", "resolved"}),
                  min_severity="red", delivery="digest")
    rows, taken = routed([picky], week)
    assert taken == [events[1], events[3]] and rows == list(week.rows)
    assert taken == [e for e in events if picky.wants(e, "digest")]  # type: ignore[arg-type]
    assert routed([replace(picky, delivery="both")], week)[1] == taken
    assert routed([replace(picky, delivery="immediate")], week)[1] == []  # not a digest subscription
    assert routed([replace(picky, tags=frozenset({"other"}))], week) == ([], [])  # scope: Route.covers


def week_of_rows(rows: list[Row], week: str = "2025-W16") -> WeekData:
    start = dt.datetime(2025, 4, 7, tzinfo=dt.UTC)
    return WeekData(week, start, start + dt.timedelta(days=7), tuple(rows), (), (), ())


def at(r: Row, *periods: str) -> Row:
    return replace(r, series=tuple(Point(p, 80.0, r.latest.rating) for p in periods))


def blank(i: int, period: str = "2025-03", last: str | None = "2025-02", provider: str = "p",
          tags: tuple[str, ...] = ()) -> NotReported:
    return NotReported(f"r{i}", f"i{i}", f"PI{i}", f"KPI {i}", tags, provider, period, last)


def test_the_digest_names_the_blanks_of_each_providers_newest_return_that_the_subscriber_covers():
    rows = [at(row(1, "green"), "2025-02", "2025-03")]
    blanks = (blank(12), blank(5, last=None), blank(2, provider="q", period="2025-02", last="2025-01"),
              blank(7, tags=("children_in_care",)))
    week = replace(week_of_rows(rows), not_reported=blanks)
    d = compose_model(week)
    assert [(n.provider, n.code) for n in d.not_reported] == [("p", "PI5"), ("p", "PI7"), ("p", "PI12"),
                                                               ("q", "PI2")]  # by provider, then code
    _, html, text = render_digest(d)
    expected = ("Not reported this period: PI5 KPI 5, p (not in the 2025-03 return; no earlier value);\n"
                "PI7 KPI 7, p (not in the 2025-03 return; last reported 2025-02);\n"
                "PI12 KPI 12, p (not in the 2025-03 return; last reported 2025-02);\n"
                "PI2 KPI 2, q (not in the 2025-02 return; last reported 2025-01).")
    assert expected in text and expected in html.replace("<strong>Not reported this period:</strong>",
                                                         "Not reported this period:")
    picky = compose_digest("Ann", [Route(1, 1, delivery="digest", providers=frozenset({"p"}),
                                         tags=frozenset({"children_in_care"}))], week, None)
    assert [n.code for n in picky.not_reported] == ["PI7"]  # routed as rows are: Route.covers
    capped = compose_digest("Ann", [Route(1, 1, delivery="digest")], week, None, max_rows=2)
    assert [n.code for n in capped.not_reported] == ["PI5", "PI7"] and capped.hidden_not_reported == 2
    assert "(not in the 2025-03 return; last reported 2025-02); and 2 more." in render_digest(capped)[2]
    full = compose_model(week_of_rows(rows))
    assert full.not_reported == [] and "Not reported" not in render_digest(full)[2]


def compose_model(week: WeekData) -> DigestModel:
    return compose_digest("Ann", [Route(1, 1, delivery="digest")], week, None)


def test_the_digest_says_returns_are_overdue_only_when_the_returns_calendar_does():
    rows = [at(row(1, "green"), "2025-03"), at(row(2, "amber"), "2025-03")]
    # late February 2026, ten months after March's return: the calendar says nothing is missing
    # (a new pack, a provider not yet expected), so nothing is called overdue, however old the data
    quiet = compose_model(week_of_rows(rows, "2026-W09"))
    assert quiet.stale is None and quiet.headline == "1 KPI on target, 1 within tolerance, none in failure"
    subject, html, text = render_digest(quiet)
    assert subject == "Weekly digest 2026-W09: none in failure, 1 within tolerance, 1 on target"  # 'all steady' cut
    assert "overdue" not in (subject + html + text).lower()
    # the calendar at the cut-off: April's KPI return missing (due 15 May, grace to 20 May), and 8 earlier
    missing = (Overdue("p", "2025-12", dt.date(2026, 1, 15), "kpi", 8),)
    late = compose_model(replace(week_of_rows(rows, "2026-W09"), overdue=missing))
    assert late.stale == "9 returns overdue by the returns calendar (latest KPI data 2025-03)"
    headline = ("Position at 2025-03: 1 KPI on target, 1 within tolerance, none in failure. "
                "9 returns overdue by the returns calendar (latest KPI data 2025-03)")
    assert late.headline == headline
    subject, html, text = render_digest(late)
    assert subject == "Weekly digest 2026-W09: none in failure, 1 within tolerance, 9 returns overdue"  # 78 at most
    assert f">{headline}</h1>" in html and f"\n{headline}.\n" in text
    assert "Overdue returns: P KPI return for 2025-12 (due Thu 15 Jan 2026), and 8 earlier" in text
    other = compose_model(replace(week_of_rows(rows, "2026-W09"),
                                  overdue=(Overdue("p", "2025-12", dt.date(2026, 1, 20), "finance"),)))
    assert other.stale is None  # a finance return: not one this KPI-only digest shows


@given(st.lists(st.sampled_from(["green", "amber", "red", None]), max_size=40),
       st.lists(st.sampled_from(["green", "amber", "red"]), max_size=3), st.booleans(), st.integers(0, 30),
       st.booleans())
def test_a_digest_subject_is_78_characters_at_most_and_leads_with_the_position(kpis, finance, monthly, overdue,
                                                                              steady):
    rows = [at(row(i, r), "2025-03") for i, r in enumerate(kpis)]
    rows += [replace(at(row(100 + i, r), "2026-01"), code=None, tags=("finance",)) for i, r in enumerate(finance)]
    missing = (Overdue("p", "2025-12", dt.date(2026, 1, 15), "kpi", overdue - 1),) if overdue and kpis else ()
    week = replace(week_of_rows(rows, "2026-W09"), overdue=missing, cadence="monthly" if monthly else "weekly")
    d = compose_model(week)
    subject = render_digest(d)[0]
    assert len(subject) <= 78
    assert subject.startswith(f"{'Monthly' if monthly else 'Weekly'} digest 2026-W09: ")
    said = subject.split(": ", 1)[1]
    if not d.no_data:
        red = sum(1 for r in [*kpis, *finance] if r == "red")
        assert said.startswith(f"{red or 'none'} in failure")  # the position first, failure first: never cut
        assert ("overdue" in said) <= bool(missing)  # never claimed unless the calendar says so
    assert "breach" not in subject


@pytest.mark.parametrize(("week", "first", "last"), [
    ("2025-W26", "Mon 16 Jun 2025", "Sun 22 Jun 2025"),  # British Summer Time: local midnight is 23:00 UTC
    ("2025-W03", "Mon 6 Jan 2025", "Sun 12 Jan 2025"),  # GMT
    ("2025-W14", "Mon 24 Mar 2025", "Sun 30 Mar 2025"),  # the clocks go forward on the last day
    ("2025-W44", "Mon 20 Oct 2025", "Sun 26 Oct 2025"),  # the clocks go back on the last day
])
def test_the_header_names_monday_to_sunday_in_every_season(demo, week, first, last):
    settings, _ = demo
    sid = add(settings, "Scrutiny", "s@example.org", delivery="digest")
    with session_for(settings.database_url) as s:
        _, model = compose_for(s, load_catalog(settings.rules_dir), settings.timezone, week, sid, utcnow())
    _, html, text = render_digest(model)
    header = f"kpi-alerts weekly digest, {week} ({first} to {last})"
    assert text.startswith(header) and header in html
