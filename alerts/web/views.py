"""What the status board and the JSON API show, built from the digest's read model (WeekData:
every (rule, subject)'s series, finance positions, missing returns). Pure: data in, plain
values out; the templates escape every text."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from alerts.digest.compose import (
    Comparison,
    FinancePosition,
    Overdue,
    Row,
    WeekData,
    as_of_period,
    code_order,
    standing,
)
from alerts.templating import fmt_value
from alerts.web.chart import BAND_LABEL, Comparator
from rules.bands import band_sentence, bands_from_described, sentence_unit
from rules.calendar import CalendarRow
from rules.catalog import BoundRule, Catalog
from rules.model import Rule
from rules.periods import period_start
from rules.vocabulary import KIND_NAMES, change, provider_name, status
from rules.vocabulary import was as was_said

if TYPE_CHECKING:
    from alerts.store.models import AlertEvent

RATINGS = ("green", "amber", "red")
WORKER_RULE, TEAM_RULE = "worker_caseload", "team_caseload"


@dataclass(frozen=True)
class Filters:
    provider: str | None = None
    tag: str | None = None
    rating: str | None = None

    def keeps(self, row: Row) -> bool:
        return ((not self.tag or self.tag in row.tags)
                and (not self.rating or (row.latest.rating or "none") == self.rating))


@dataclass(frozen=True)
class Cell:
    rule_id: str
    key: str  # the indicator key (the indicator page's URL)
    code: str
    name: str
    period: str
    value: str
    rating: str | None
    direction: str  # better | worse | same | new
    months_outside_green: int
    contract: bool  # a contract KPI (with a code), not finance or caseloads


@dataclass(frozen=True)
class Caseloads:
    """A provider's latest caseloads: workers and teams by rating."""

    period: str
    workers: Counter
    teams: Counter

    @property
    def sentence(self) -> str:
        n, over = sum(self.workers.values()), self.workers["red"]
        text = (f"{over} of {n} social worker{'s' if n != 1 else ''} above the caseload ceiling, "
                f"{self.workers['amber']} within tolerance") if n else ""
        if self.teams:
            teams = sum(self.teams.values())
            text += f"{'; ' if text else ''}{self.teams['red']} of {teams} team{'s' if teams != 1 else ''} " \
                    "above the expected average"
        return f"{text} ({self.period})."


@dataclass(frozen=True)
class Board:
    provider: str
    name: str
    cells: list[Cell]
    # what it counts, in the trust's words, each area apart so it never contradicts the rows:
    # "10 KPIs on target, 5 within tolerance, none in failure; finance: 2 in failure"
    headline: str | None
    finance: FinancePosition | None = None
    caseloads: Caseloads | None = None
    overdue: list[Overdue] = field(default_factory=list)

    @cached_property
    def by_rule(self) -> dict[str, Cell]:
        return {c.rule_id: c for c in self.cells}


def value_text(catalog: Catalog, rule_id: str, value: float) -> str:
    """As messages put it: a finance rule's rated value is a percentage of what `amount.of` names."""
    bound = catalog.rules_by_id.get(rule_id)
    if bound is None:
        return f"{value:g}"
    amount = bound.rule.amount
    if amount is not None:
        return f"overspend {round(value, 2):g}% of {amount.of.replace('ytd_', 'year-to-date ').replace('_', ' ')}"
    return fmt_value(value, bound.rule.unit)


def _cell(catalog: Catalog, row: Row) -> Cell:
    return Cell(row.rule_id, row.indicator, row.code or "", row.name, row.latest.period,
                value_text(catalog, row.rule_id, row.latest.value), row.latest.rating, row.direction,
                row.months_outside_green, bool(row.code))


def _caseloads(rows: list[Row]) -> Caseloads | None:
    workers = [r for r in rows if r.rule_id == WORKER_RULE]
    teams = [r for r in rows if r.rule_id == TEAM_RULE]
    if not workers and not teams:
        return None
    period = max(r.latest.period for r in workers + teams)
    return Caseloads(period, Counter(r.latest.rating for r in workers if r.latest.period == period),
                     Counter(r.latest.rating for r in teams if r.latest.period == period))


def boards(catalog: Catalog, data: WeekData, filters: Filters) -> list[Board]:
    """One board per provider (one when filtered to a provider): its own indicators (teams and
    workers are summarised as caseloads), contract KPIs first in code order."""
    rows_of: dict[str, list[Row]] = defaultdict(list)
    for row in data.rows:
        if not filters.provider or row.provider == filters.provider:
            rows_of[row.provider].append(row)
    finance = {f.provider: f for f in data.finance}
    overdue: dict[str, list[Overdue]] = defaultdict(list)
    for o in data.overdue:
        overdue[o.provider].append(o)
    out = []
    for provider in sorted(rows_of):
        own = [r for r in rows_of[provider] if r.subject == provider]
        cells = sorted((_cell(catalog, r) for r in own if filters.keeps(r)),
                       key=lambda c: (not c.contract, code_order(c.code or None), c.code, c.name))
        if not cells and (filters.tag or filters.rating):
            continue
        headline = standing(own)
        out.append(Board(provider, provider_name(provider), cells, headline and headline[:1].upper() + headline[1:],
                         finance.get(provider), _caseloads(rows_of[provider]), overdue[provider]))
    return out


def columns(found: list[Board]) -> list[tuple[str, str, str]]:
    """The grid's columns when many providers show: (rule id, code, name) of each contract KPI."""
    seen = {(c.rule_id, c.code, c.name) for b in found for c in b.cells if c.contract}
    return sorted(seen, key=lambda c: (code_order(c[1]), c[1], c[2]))


def comparator_lines(catalog: Catalog, rule_id: str) -> list[Comparator]:
    """The pack's comparators of a rule as chart lines, each figure holding from its date."""
    bound = catalog.rules_by_id.get(rule_id)
    if bound is None:
        return []
    figures: dict[str, list[tuple[str, float]]] = {}
    for c in bound.rule.comparators:
        figures.setdefault(c.name, []).append((as_of_period(c.as_of), c.value))
    return [Comparator(Comparison(name, 0).label, tuple(sorted(f))) for name, f in figures.items()]


def tags_of(catalog: Catalog) -> list[str]:
    return sorted({t for b in catalog.rules for t in b.rule.tags})


SEVERITY_WORDS = {"amber": "Within tolerance or worse (amber and red)", "red": "In failure only (red)"}
DELIVERY_WORDS = {"immediate": "Straight away", "digest": "In the weekly digest",
                  "both": "Straight away and in the weekly digest"}


def current_rule(catalog: Catalog, key: str, today: dt.date) -> BoundRule | None:
    """The rule an indicator (a key, rule id or code) means today: the one of the suite in force,
    else of the newest suite (PI1 of 2024 and PI4 of 2018 rate the same measure)."""
    found = [b for b in catalog.rules
             if key in (b.id, b.rule.measure_key) or (b.code and key.upper() == b.code.upper())]
    return max(found, key=lambda b: (b.pack.in_force(today), b.pack.effective_from or dt.date.min), default=None)


def rule_label(b: BoundRule, today: dt.date) -> str:
    """'PI1 Single assessments ...' for today's suite; an older suite's code is named with it
    ('MASH referrals ... (PI1 of the 2018 suite)'): the same code means another KPI today."""
    if not b.code:
        return b.rule.name
    if b.pack.in_force(today):
        return f"{b.code} {b.rule.name}"
    return f"{b.rule.name} ({b.code} of the {b.suite} suite)"


def indicator_label(catalog: Catalog, key: str, today: dt.date) -> str:
    """A subscription's indicator as people know it today."""
    b = current_rule(catalog, key, today)
    return rule_label(b, today) if b else key


def describe(catalog: Catalog, values: dict, today: dt.date) -> list[tuple[str, str]]:
    """A subscription as summary-list rows: what it follows and how it tells."""
    def listed(items: list[str], label: object = str) -> str:
        return ", ".join(label(i) for i in items) if items else "Any"  # type: ignore[operator]

    return [("Indicators", listed(values["indicators"], lambda k: indicator_label(catalog, k, today))),
            ("Tags", listed(values["tags"])), ("Providers", listed(values["providers"], provider_name)),
            ("Teams", listed(values["teams"])), ("Severity", SEVERITY_WORDS.get(values["min_severity"], "")),
            ("When", DELIVERY_WORDS.get(values["delivery"], values["delivery"]))]


def indicator_choices(catalog: Catalog, today: dt.date) -> list[tuple[str, str]]:
    """(key, label) of every indicator a subscription can follow, contract KPIs first, as
    today's suite names them."""
    keys = {b.rule.measure_key for b in catalog.rules}
    chosen = [b for k in keys if (b := current_rule(catalog, k, today)) is not None]
    return [(b.rule.measure_key, rule_label(b, today)) for b in sorted(
        chosen, key=lambda b: (not (b.code and b.pack.in_force(today)), not b.code, code_order(b.code), b.rule.name))]


RETURN_WORDS = {"submitted": "Submitted", "late": "Late", "missing": "Missing", "not_due": "Not due yet"}
RETURN_TAGS = {"submitted": "govuk-tag--green", "late": "govuk-tag--yellow", "missing": "govuk-tag--red",
               "not_due": "govuk-tag--grey"}


@dataclass(frozen=True)
class CalendarLine:
    provider: str
    name: str
    kind: str
    cells: dict[str, CalendarRow]  # period -> its row


def calendar_grid(rows: list[CalendarRow], months: int = 12) -> tuple[list[str], list[CalendarLine]]:
    """The expected-returns calendar as a grid: the last `months` periods, one line per provider
    and kind."""
    periods = sorted({r.period for r in rows})[-months:]
    lines: dict[tuple[str, str], dict[str, CalendarRow]] = defaultdict(dict)
    for r in rows:
        if r.period in periods:
            lines[(r.provider, r.kind)][r.period] = r
    return periods, [CalendarLine(p, provider_name(p), k, cells) for (p, k), cells in sorted(lines.items())]


def split_problem(line: str, file: str) -> tuple[str, str, str]:
    """'FILE:ROW:COLUMN: message' of the file `file` as (row, column, message)."""
    rest = line.removeprefix(f"{file}:")
    parts = rest.split(":", 2)
    if rest == line or len(parts) < 3:
        return ("", "", line)
    row, column, message = parts
    return row, column, message.strip()


STATE_WORDS: dict[str | None, str] = {**BAND_LABEL, None: "not rated"}


def rule_title(catalog: Catalog, rule_id: str) -> str:
    """'PI1 Single assessments ...' (a rule's code in its own suite, then its name)."""
    bound = catalog.rules_by_id.get(rule_id)
    return f"{bound.code + ' ' if bound.code else ''}{bound.rule.name}" if bound else rule_id


def landed_summary(catalog: Catalog, body: dict) -> dict:
    """`ingest --json`'s object in people's words: what changed, every value rated, what was left blank."""
    provider = body["return"]["provider"]
    day = period_start(body["return"]["periods"][-1])

    def by_code(key: str) -> int:
        return code_order(getattr(current_rule(catalog, key, day), "code", None))

    def subject(s: str) -> str:
        return provider_name(provider) if s == provider else s.removeprefix(f"{provider}/").replace("/", " ")

    return {
        "title": f"{provider_name(provider)}, {KIND_NAMES.get(body['return']['kind'], body['return']['kind'])} "
                 f"return for {', '.join(body['return']['periods'])}",
        "changes": [f"{rule_title(catalog, t['rule'])}, {subject(t['subject'])}, {t['period']}: {t['kind']} "
                    f"(was {STATE_WORDS.get(t['from'], t['from'])}, now {STATE_WORDS.get(t['to'], t['to'])})"
                    for t in body["transitions"]],
        "rated": [{"label": rule_title(catalog, e["rule"]), "subject": subject(e["subject"]), "period": e["period"],
                   "value": value_text(catalog, e["rule"], e["value"]), "rating": e["rating"]}
                  for e in body["evaluations"]],
        "blank": [indicator_label(catalog, key, day) for key in sorted(body.get("not_reported", []), key=by_code)],
    }


# --- an indicator's page: its bands, axis and history in a leader's words ---------------------

AXIS_WORDS = {"percent": "Per cent (%)", "rate_per_10000": "Rate per 10,000 children", "count": "Number",
              "gbp": "Pounds (£)", "number": "Value"}


def axis_label(rule: Rule) -> str:
    """The chart's value axis, with its unit: 'Per cent (%)', 'Overspend, % of funding'."""
    if rule.amount is not None:
        return f"Overspend, % of {rule.amount.of.replace('ytd_', 'year-to-date ').replace('_', ' ')}"
    if rule.rated_by == "calendar":
        return "Returns missing"
    if rule.kind == "caseload" and rule.unit == "count":
        return "Children per worker"
    return AXIS_WORDS.get(rule.unit, "Value")


def bands_said(rule: Rule, thresholds: dict) -> str:
    """A rating's bands (its stored `thresholds`) as the contract states them; what cannot be
    read as bands is shown as stored."""
    bands = bands_from_described(thresholds)
    if bands is None:
        return "; ".join(f"{k} {v}" for k, v in thresholds.items() if v != "")
    return band_sentence(bands, sentence_unit(rule))


# how an acknowledgement names the role its author held; None: `kpi-alerts ack` (no role)
ROLE_WORDS = {"viewer": "viewer", "performance": "performance team", "admin": "admin", None: "command line"}
_NAMED = re.compile(r"^(?P<name>.+?) <[^<>@\s]+@[^<>\s]+>$")


def acknowledger(by: str | None, role: str | None) -> str:
    """'Jo Bloggs (performance team)': the name (the address when there is none) and the role."""
    found = _NAMED.match(by or "")
    person = found["name"] if found else (by or "someone")
    return f"{person} ({ROLE_WORDS.get(role, role)})"


def day_of(moment: dt.datetime, timezone: str) -> str:
    """'12 Nov 2024': the day, where the install is."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.day} {local:%b %Y}"


@dataclass(frozen=True)
class HistoryLine:
    period: str  # the month the event is about
    when: str  # 'known 12 Nov 2024' (a rating became known) or 'on 13 Nov 2024' (someone acted)
    text: str
    note: str | None


def history_line(event: AlertEvent, timezone: str) -> HistoryLine:
    """One alert event as a leader reads it: '2024-10 (known 12 Nov 2024): in failure (was
    within tolerance)'."""
    kind, was, now, day = event.kind, event.from_state, event.to_state, day_of(event.at, timezone)
    if kind in ("acknowledged", "snoozed"):
        what = "acknowledged" if kind == "acknowledged" else "notifications snoozed"
        return HistoryLine(event.period, f"on {day}", f"{what} by {acknowledger(event.by, event.by_role)}",
                           event.note)
    # the messages' words for a change (rules.vocabulary), with where it was
    said = change(kind, now) + (f", {status(now)}" if kind == "corrected" else "")
    text = {"opened": f"alert opened, {said}", "reminder": f"reminder sent, {said}"}.get(kind, said) + (
        was_said(was) if was != now and kind != "opened" else "")
    return HistoryLine(event.period, f"known {day}", text, event.note)
