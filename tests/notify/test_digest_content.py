"""What a digest tells a leader beside each figure (issue 10, section 4): comparators, the
financial year to date, the finance forecast month by month, acknowledgements on every kind
of row, and exactly which KPIs the newest returns left blank."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.digest.compose import Point, financial_year, latest_comparators, year_to_date
from alerts.digest.render import render_digest
from alerts.store.db import session_for
from alerts.store.models import Alert, utcnow
from alerts.usecases.acks import acknowledge
from rules.loader import load_catalog
from rules.periods import period_from_index, period_index
from tests.conftest import EXAMPLES, add_subscriber, kpi_csv
from tests.ingesting import ingest_bytes
from tests.notify.test_digest import compose

RATINGS = ("green", "amber", "red")


def html_row(html: str, code: str) -> str:
    row = html[html.index(f"<strong>{code}</strong>"):]
    return row[:row.index("</tr>")]


def text_row(text: str, code: str) -> str:
    """A KPI's lines in the text part: its first line and the indented ones after it."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(f"- {code} "))
    end = next((n for n in range(i + 1, len(lines)) if not lines[n].startswith("  ")), len(lines))
    return "\n".join(lines[i:end])


# --- the financial year to date ------------------------------------------------------------


def test_each_kpi_row_counts_its_months_in_each_band_as_the_annual_review_does(demo):
    """The example year's months in each band per KPI are published (001 section (b)): the
    digest's year-to-date line says the same for every one of the 15."""
    settings, _ = demo
    published = json.loads((EXAMPLES / "published.json").read_text())["kpis"]
    d = compose(settings, add_subscriber(settings, "Chief executive", "ceo@example.org", delivery="digest"))
    _, html, text = render_digest(d)
    assert len(d.kpis) == 15
    for r in d.kpis:
        ytd, bands = r.year_to_date, published[r.code]["months_in_band"]
        assert (ytd.year, ytd.first, ytd.last, ytd.months) == ("2024-25", "2024-04", "2025-03", 12)
        assert (ytd.green, ytd.amber, ytd.red, ytd.not_reported) == (bands["green"], bands["amber"], bands["red"], 0)
        sentence = (f"2024-25 to date (Apr–Mar): {bands['green']} of 12 months on target, "
                    f"{bands['amber']} within tolerance, {bands['red']} in failure")
        assert ytd.sentence == sentence
        assert sentence in html_row(html, r.code) and f"  {sentence}." in text_row(text, r.code)


def test_the_year_to_date_says_which_months_went_unreported():
    months = ["2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09", "2024-10", "2024-11", "2025-01",
              "2025-02"]  # no December
    ratings = ["green"] * 7 + ["amber", "amber", "red"]
    series = (Point("2024-03", 1.0, "red"), *(Point(p, 1.0, r) for p, r in zip(months, ratings, strict=True)))
    ytd = year_to_date(series)  # March 2024 belongs to the year before
    assert ytd.sentence == ("2024-25 to date (Apr–Feb): 7 of 11 months on target, 2 within tolerance, 1 in failure, "
                            "1 not reported")
    assert year_to_date((Point("2025-04", 1.0, "amber"),)).sentence == (
        "2025-26 to date (Apr): 0 of 1 month on target, 1 within tolerance, 0 in failure")
    assert year_to_date(()) is None


@given(st.integers(2018 * 12, 2030 * 12), st.lists(st.tuples(st.integers(0, 30), st.sampled_from(RATINGS)),
                                                    min_size=1, max_size=30, unique_by=lambda t: t[0]))
def test_year_to_date_counts_only_the_latest_periods_financial_year(top, back_ratings):
    series = tuple(Point(period_from_index(top - back), 1.0, rating)
                   for back, rating in sorted(back_ratings, key=lambda t: -t[0]))  # oldest first, the latest last
    latest = series[-1].period
    ytd = year_to_date(series)
    first, label = financial_year(latest)
    assert first[5:] == "04" and 0 <= period_index(latest) - period_index(first) < 12
    assert label == f"{first[:4]}-{(int(first[:4]) + 1) % 100:02d}" and (ytd.first, ytd.year) == (first, label)
    within = [p for p in series if first <= p.period <= latest]
    assert ytd.months == period_index(latest) - period_index(first) + 1
    assert (ytd.green, ytd.amber, ytd.red) == tuple(sum(p.rating == b for p in within) for b in RATINGS)
    assert ytd.not_reported == ytd.months - len(within) >= 0


# --- comparators ------------------------------------------------------------------------------


def test_the_newest_figure_of_each_comparator_is_shown_neighbours_then_england():
    pi8 = [("statistical_neighbour_average", 9.8, None), ("england_average", 10, None),
           ("west_midlands_average", 10, None), ("statistical_neighbour_average", 10.8, "2026-01"),
           ("england_average", 10, "2026-01")]  # contract-2024.yaml: 001 undated, 000 (March 2026) dated
    assert [(c.label, c.value, c.as_of) for c in latest_comparators(pi8)] == [
        ("statistical neighbours", 10.8, "2026-01"), ("England", 10, "2026-01"), ("West Midlands", 10, None)]
    pi2_2018 = [("england_average", 41.4, "2021-03"), ("england_average", 46.5, "FY2017-18")]
    assert [(c.value, c.as_of) for c in latest_comparators(pi2_2018)] == [(41.4, "2021-03")]  # FY2017-18 is older
    assert latest_comparators([]) == ()


@given(st.lists(st.tuples(st.sampled_from(["england_average", "statistical_neighbour_average", "north_west"]),
                          st.integers(0, 100).map(float),
                          st.one_of(st.none(), st.sampled_from(["2021-03", "2024-03", "FY2022-23", "2025-09"]))),
                max_size=12))
def test_latest_comparators_keeps_one_per_name_the_newest_and_the_last_given_among_equals(given_):
    shown = latest_comparators(given_)
    assert sorted(c.name for c in shown) == sorted({name for name, _, _ in given_})
    order = {"2021-03": 1, "FY2022-23": 2, "2024-03": 3, "2025-09": 4, None: 0}
    for c in shown:
        mine = [(order[a], i, v) for i, (n, v, a) in enumerate(given_) if n == c.name]
        assert (c.value, order[c.as_of]) == (max(mine)[2], max(mine)[0])


def test_comparators_stand_beside_the_kpis_and_the_trust_caseload_that_have_them(demo):
    settings, _ = demo
    d = compose(settings, add_subscriber(settings, "Everyone", "all@example.org", delivery="digest"))
    _, html, text = render_digest(d)
    pi4 = "Comparators: statistical neighbours 50.2 (2024-03), England 41.6 (2024-03)"
    assert pi4 in html_row(html, "PI4") and f"  {pi4}." in text_row(text, "PI4")
    pi8 = "Comparators: statistical neighbours 10.8% (2026-01), England 10% (2026-01), West Midlands 10%"
    assert pi8 in html_row(html, "PI8") and pi8 in text_row(text, "PI8")
    for code in ("PI1", "PI5", "PI12"):  # the pack gives none
        assert "Comparators" not in html_row(html, code) and "Comparators" not in text_row(text, code)
    trust = "Comparators: statistical neighbours 15.4 (2025-03), England 15.4 (2025-03)"  # the 2021 figures are older
    caseloads = html[html.index("<h2 style=\"font-size:16px;margin:8px 0;\">Caseloads</h2>"):]
    assert trust in caseloads[:caseloads.index("</table>")] and f"  {trust}." in text


# --- finance: the forecast month by month ---------------------------------------------------


def finance_csv(period: str, forecast: int, provider: str = "sandwell") -> bytes:
    rows = {"contract_sum": 93_900_000, "other_income": 11_300_000, "ytd_budget": 50_000_000,
            "ytd_actual": 50_000_000, "forecast_outturn": forecast}
    return ("provider,period,measure,value\n" + "".join(f"{provider},{period},{m},{v}\n" for m, v in rows.items())
            ).encode()


def test_the_finance_section_shows_this_years_forecast_month_by_month_in_pounds(demo):
    settings, _ = demo
    for period, forecast in (("2025-03", 100_000_000), ("2025-10", 108_000_000), ("2025-12", 104_700_000)):
        assert not ingest_bytes(f"finance-{period}.csv", finance_csv(period, forecast)).errors
    d = compose(settings, add_subscriber(settings, "Finance", "fin@example.org", tags=["finance"], delivery="digest"))
    (f,) = d.finance_positions
    assert (f.period, f.year) == ("2026-01", "2025-26")  # March 2025 is the year before: not in the trend
    assert [(m.period, m.forecast_outturn, round(m.overspend), m.rating) for m in f.months] == [
        ("2025-10", 108_000_000, 2_800_000, "red"), ("2025-12", 104_700_000, -500_000, "green"),
        ("2026-01", 115_390_000, 10_190_000, "red")]
    _, html, text = render_digest(d)
    trend = html[html.index("Forecast by month, 2025-26"):]
    trend = trend[:trend.index("</table>")]
    for cell in (">Oct<", ">Dec<", ">Jan<", ">£108.00m<", ">£104.70m<", ">£115.39m<", ">£2.80m<", ">(£500,000)<",
                 ">£10.19m<"):
        assert cell in trend, cell
    assert "£100.00m" not in html and "Mar" not in trend
    assert ("  Forecast by month, 2025-26:\n    Oct: outturn £108.00m, overspend £2.80m RED, in failure\n"
            "    Dec: outturn £104.70m, underspend £500,000 GREEN, on target\n"
            "    Jan: outturn £115.39m, overspend £10.19m RED, in failure\n") in text


def test_finance_positions_are_capped_worst_first_for_a_national_reader(demo):
    settings, _ = demo
    for i, forecast in enumerate((104_000_000, 106_000_000, 115_000_000)):  # green, amber, red
        assert not ingest_bytes(f"f{i}.csv", finance_csv("2026-01", forecast, provider=f"trust-{i}")).errors
    d = compose(settings, add_subscriber(settings, "National", "n@example.org", tags=["finance"], delivery="digest"),
                max_rows=2)
    assert d.finance_total == 4 and [f.provider for f in d.finance_positions] == ["sandwell", "trust-2"]
    _, html, text = render_digest(d)
    assert "Showing 2 of 4 providers' finance positions, red and amber first" in html
    assert "Showing 2 of 4 providers' finance positions, red and amber first" in text


# --- acknowledgements on finance and caseload rows ------------------------------------------


def test_acknowledgement_notes_show_on_finance_and_caseload_alerts_escaped(demo):
    settings, _ = demo
    sid = add_subscriber(settings, "Director", "dcs@example.org", tags=["finance", "caseloads"], delivery="digest")
    notes = {"forecast_overspend_pct": ("Finance director", "Recovery plan <b>agreed</b> with the council"),
             "ytd_overspend_pct": ("Finance director", "Year-to-date: agency spend & placements"),
             "team_caseload": ("Head of service", "Two <i>agency</i> workers start in April")}
    with session_for(settings.database_url) as s:
        for rule, (by, note) in notes.items():
            alert = s.execute(select(Alert.id).where(Alert.rule_id == rule, Alert.state != "green")
                              .order_by(Alert.subject)).scalars().first()
            acknowledge(s, alert, by, note, utcnow())
    d = compose(settings, sid)
    _, html, text = render_digest(d)
    finance = html[html.index(">Finance</h2>"):html.index(">Caseloads</h2>")]
    assert ("Acknowledged by Finance director: &ldquo;Recovery plan &lt;b&gt;agreed&lt;/b&gt; with the "
            "council&rdquo;") in finance
    assert "Acknowledged by Finance director: &ldquo;Year-to-date: agency spend &amp; placements&rdquo;" in finance
    caseloads = html[html.index(">Caseloads</h2>"):]
    caseloads = caseloads[:caseloads.index("</table>")]
    assert "Acknowledged by Head of service: &ldquo;Two &lt;i&gt;agency&lt;/i&gt; workers start in April&rdquo;" \
        in caseloads
    assert "<b>agreed" not in html and "<i>agency" not in html
    for by, note in notes.values():
        assert f'  Acknowledged by {by}: "{note}"' in text


# --- not reported: exactly the newest return's blanks ---------------------------------------


def kpis_2025(period: str, blank: set[int], provider: str = "sandwell", rowless: set[int] = frozenset()) -> bytes:
    """A 2024-suite KPI return: every KPI at 80, but `blank` ones left blank and `rowless` ones without a row."""
    return kpi_csv([(period, f"PI{i}", "" if i in blank else "80") for i in range(1, 16) if i not in rowless],
                   provider)


def test_not_reported_is_exactly_what_each_providers_newest_return_left_blank(demo):
    """As `ingest` reports it for that return: not an older period's blanks, not a KPI without a
    rule (inputs, derived rates), whatever the subscriber follows."""
    settings, _ = demo
    everyone = add_subscriber(settings, "Everyone", "all@example.org", delivery="digest")
    pi5_only = add_subscriber(settings, "Disabilities lead", "dl@example.org", indicators=["PI5"], delivery="digest")
    reported = {}

    def land(name: str, body: bytes) -> None:
        result = ingest_bytes(name, body, confirm_by="the test")  # every KPI at 80: queried, and confirmed
        assert not result.errors, result.errors
        reported[name] = set(result.outcome.not_reported)

    land("walsall-03.csv", kpis_2025("2025-03", {2}, "walsall"))  # older: PI2's blank is not this period's
    land("walsall-04.csv", kpis_2025("2025-04", {9}, "walsall"))
    land("sandwell-04.csv", kpis_2025("2025-04", {5}, rowless={12}))
    land("sandwell-02.csv", kpis_2025("2025-02", {3}))  # a restatement of an older month, landing last
    catalog = load_catalog(settings.rules_dir)
    key = {b.rule.measure_key: b.code for b in catalog.rules if b.code and b.pack.suite == "2024"}
    newest = {("walsall", key[k]) for k in reported["walsall-04.csv"]} | {
        ("sandwell", key[k]) for k in reported["sandwell-04.csv"]}
    assert newest == {("walsall", "PI9"), ("sandwell", "PI5"), ("sandwell", "PI12")}
    d = compose(settings, everyone)
    assert {(n.provider, n.code) for n in d.not_reported} == newest
    assert all(n.period == "2025-04" for n in d.not_reported)
    assert {(n.provider, n.code): n.last for n in d.not_reported}[("sandwell", "PI5")] == "2025-03"
    assert {(n.provider, n.code): n.last for n in d.not_reported}[("walsall", "PI9")] == "2025-03"
    assert [(n.provider, n.code) for n in compose(settings, pi5_only).not_reported] == [("sandwell", "PI5")]
    _, html, text = render_digest(compose(settings, pi5_only))
    assert ("Not reported this period: PI5 Children with disabilities: assessment updated in last 12 months, "
            "sandwell (not in the 2025-04 return; last reported 2025-03).") in text  # walsall's PI5 is in its table
    # the newest period restated: its restatement is the newest return (PI5 given now, PI6 left blank)
    land("sandwell-04-restated.csv", kpis_2025("2025-04", {6}, rowless={12}))
    d = compose(settings, everyone)
    assert {(n.provider, n.code) for n in d.not_reported} == {("walsall", "PI9"), ("sandwell", "PI6"),
                                                              ("sandwell", "PI12")}
    pi6 = next(r for r in d.kpis if r.code == "PI6")
    assert pi6.latest.period == "2025-03"  # its 2025-04 value was superseded by the restatement
    assert compose(settings, pi5_only).not_reported == []


def test_a_subscriber_following_one_kpi_hears_that_the_newest_return_left_it_blank(demo):
    settings, _ = demo
    sid = add_subscriber(settings, "Disabilities lead", "dl@example.org", indicators=["PI5"], delivery="digest")
    assert not ingest_bytes("k.csv", kpis_2025("2025-04", {5}), confirm_by="the test").errors  # all at 80: queried
    d = compose(settings, sid)
    assert [r.code for r in d.kpis] == ["PI5"] and d.kpis[0].latest.period == "2025-03"
    assert [(n.code, n.period, n.last) for n in d.not_reported] == [("PI5", "2025-04", "2025-03")]
