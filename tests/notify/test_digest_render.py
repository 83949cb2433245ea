"""The digest's two parts and its size: compact bars, the row cap, the plain-text part, the
unsubscribe placeholder. Pure parts are tested directly; the rest over the demo data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from alerts.digest.compose import Point, Row, position_sentence, select_rows
from alerts.digest.render import render_digest
from alerts.templating import RAG, bars
from alerts.unsubscribe import LINK_MARK
from config import Settings
from tests.notify.test_digest import add, compose, demo  # noqa: F401  (fixture)

RATINGS = ("green", "amber", "red", None)


def row(i: int, rating: str | None, previous: str | None = None, values: tuple[float, ...] = ()) -> Row:
    latest = Point("2025-03", 1.0, rating)
    series = tuple(Point(f"2024-{m + 1:02d}", v, rating) for m, v in enumerate(values)) or (
        (Point("2025-02", 1.0, previous), latest) if previous else (latest,))
    return Row(rule_id=f"r{i}", indicator=f"i{i}", code=f"PI{i}", name=f"KPI {i}", unit="%",
               polarity="higher_is_better", tags=(), provider="p", subject="p", team=None, thresholds={},
               series=series)


class _Bars(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "td" and "bgcolor" in a:
            self.cells.append((int(a["height"]), a["bgcolor"]))


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
    assert len(str(bars(r))) < 5 * 200  # lean: a digest holds twelve of these per indicator


@given(st.lists(st.tuples(st.sampled_from(RATINGS), st.sampled_from(RATINGS)), max_size=60),
       st.integers(min_value=0, max_value=70))
def test_row_cap_keeps_the_worst_in_table_order(spec, cap):
    rows = [row(i, rating, previous) for i, (rating, previous) in enumerate(spec)]
    shown = select_rows(rows, cap)
    if cap == 0 or len(rows) <= cap:
        assert shown == rows
        return
    assert len(shown) == cap
    assert [rows.index(r) for r in shown] == sorted(rows.index(r) for r in shown)  # the table's own order
    hidden = [r for r in rows if r not in shown]
    rank = {"red": 0, "amber": 1}

    def level(r: Row) -> int:
        changed = r.previous is not None and r.previous.rating != r.latest.rating
        return rank.get(r.latest.rating or "", 2 if changed else 3)
    assert max(map(level, shown)) <= min(map(level, hidden))  # nothing hidden outranks anything shown


def test_position_sentence_reads_right_for_one_and_none():
    assert position_sentence(Counter(green=10, amber=5)) == "10 KPIs on target, 5 within tolerance, none in failure"
    assert position_sentence(Counter(green=1, red=2)) == "1 KPI on target, none within tolerance, 2 in failure"
    assert position_sentence(Counter()) == "no KPIs on target, none within tolerance, none in failure"


def test_text_part_carries_the_same_facts_as_the_html(demo):  # noqa: F811
    settings, _ = demo
    d = compose(settings, add(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    subject, html, text = render_digest(d, "https://alerts.example.org", LINK_MARK)
    assert "10 KPIs on target, 5 within tolerance, none in failure" in text
    for r in d.kpis:
        line = next(x for x in text.splitlines() if x.startswith(f"- {r.code} "))
        assert r.name in line and r.latest.period in line and r.latest.rating.upper() in line
        assert f"<strong>{r.code}</strong>" in html
    assert "overspend £10.19m (9.7%)" in text and "sandwell/worker/SW-0003" in text
    assert sum(1 for x in text.splitlines() if x.startswith("- ") and " -> " in x) == len(d.events)
    assert "Full status page: https://alerts.example.org/status" in text
    assert f"Unsubscribe: {LINK_MARK}" in text and f'href="{LINK_MARK}"' in html
    _, html2, text2 = render_digest(d)  # no base URL: no link, no placeholder left for anyone to fill
    assert LINK_MARK not in html2 + text2 and "status page" not in text2.lower()
    assert "<" not in text.replace("<=", "").replace("< ", "")  # plain text, no markup


def test_capped_digest_says_what_it_hides_and_counts_everything(demo):  # noqa: F811
    settings, _ = demo
    sid = add(settings, "Chief executive", "ceo@example.org", delivery="digest")
    full = compose(settings, sid)
    capped = type(full)(**{**full.__dict__, "kpis": select_rows(full.kpis, 4), "kpi_total": len(full.kpis)})
    assert capped.headline == full.headline  # the headline counts every indicator
    assert [r.latest.rating for r in capped.kpis].count("amber") == 4  # 5 amber, none red: 4 of them shown
    _, html, text = render_digest(capped, "https://alerts.example.org")
    assert "Showing 4 of 15 indicators, red and amber first; the other 11 are on the" in html
    assert "Showing 4 of 15 indicators, red and amber first; the other 11 are on the status page: " \
           "https://alerts.example.org/status." in text
    _, html_all, _ = render_digest(full)
    assert "indicators, red and amber first" not in html_all  # 15 rows fit under the default cap
    assert full.events_total > 25 and len(full.events) == 25  # the demo year's events did not
    assert f"Showing 25 of {full.events_total} alert events, the most severe" in html_all
    assert all(e.severity >= 2 for e in full.events if e.to_state == "red")


def test_a_digest_at_the_caps_stays_under_gmails_clipping_size(demo):  # noqa: F811
    settings, _ = demo
    cap = Settings.model_fields["digest_max_rows"].default
    d = compose(settings, add(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    assert len(d.events) == cap  # the demo year's events fill the events cap
    big = type(d)(**{**d.__dict__, "kpis": select_rows(d.kpis * 3, cap), "kpi_total": 45})  # three providers' worth
    _, html, text = render_digest(big, "https://alerts.example.org", LINK_MARK)
    assert len(html.encode()) < 102 * 1024, len(html.encode())
    assert len(text.encode()) < 20 * 1024


def test_week_rows_render_once_per_run():
    cache: dict = {}
    r = row(1, "red", values=tuple(float(v) for v in range(1, 13)))
    from alerts.digest.compose import DigestModel

    start = dt.datetime(2025, 3, 17, tzinfo=dt.UTC)
    d = DigestModel("A", "2025-W12", start, start + dt.timedelta(days=7), [r], [], [], [], [], [],
                    counts=Counter(red=1), kpi_total=1)
    render_digest(d, cache=cache)
    assert len(cache) == 2  # the row once as HTML and once as text
    render_digest(d, cache=cache)
    assert len(cache) == 2
