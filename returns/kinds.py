"""The three kinds of return: recognising one from its header, and checking its rows.

Each kind is one RowChecker subclass. A checker never stops at a bad cell: it records a
problem and carries on, so one upload shows the provider everything to fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from returns.errors import WHOLE_FILE, ReturnProblem, ReturnRejected
from returns.lookup import MeasureLike, MeasureLookup
from returns.model import Observation
from returns.names import unsafe_character
from returns.readers.base import UNNAMED, Cells
from returns.values import CellError, got, parse_bool, parse_money, parse_number, parse_period, shown

KPI, FINANCE, CASELOAD = "kpi", "finance", "caseload"
HEADERS: dict[str, tuple[str, ...]] = {
    KPI: ("provider", "period", "indicator", "value"),
    FINANCE: ("provider", "period", "measure", "value"),
    CASELOAD: ("provider", "period", "team", "service", "worker", "asye", "caseload"),
}
LABELS = {KPI: "KPI", FINANCE: "finance", CASELOAD: "caseload"}
_COMMON = {"provider", "period", "value"}
_DISTINCT = {kind: set(cols) - _COMMON for kind, cols in HEADERS.items()}  # columns that say which kind

# Fixed by the return interface, whatever the rule packs say.
FINANCE_MEASURES = ("contract_sum", "other_income", "ytd_budget", "ytd_actual", "forecast_outturn")
# Same list as rules.model.SERVICES; kept here so returns/ does not depend on the rule schema.
SERVICES = ("assessment_intervention", "court_child_protection", "children_we_care_for", "care_leavers")
NAME_MAX = 100

_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]*")

# Beyond these sizes a value is a slip (a pasted cell reference, 1e308), whatever the pack
# says: they keep every later sum, difference and format finite. A rule's plausible range
# (rules.model.Plausible), when the pack gives one, is checked as well.
UNIT_LIMITS = {"count": 1e9, "rate_per_10000": 1e9, "number": 1e9, "gbp": 1e12}
FRACTIONS = "percentages are expected as 0-100, e.g. 81.6, not 0.816"


def amount(value: float, unit: str | None) -> str:
    """A range edge as a person reads it: 100, 10,000, £5,000,000,000, 0.5."""
    text = f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    if unit == "gbp":
        return f"-£{text[1:]}" if text.startswith("-") else f"£{text}"
    return text


def control_character(text: str) -> str | None:
    """' (character 3 is the control character U+001B)' for the first character returns.names
    refuses in a name (controls, tab, CR and LF included, bidi overrides, zero-width), else None."""
    where = unsafe_character(text)
    return f" ({where})" if where is not None else None


def header_line(kind: str) -> str:
    return ",".join(HEADERS[kind])


def expected_header(kind: str) -> str:
    return f"the {LABELS[kind]} header {header_line(kind)}"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


@dataclass(frozen=True)
class Header:
    kind: str
    names: dict[str, str]  # canonical column -> the name as written in the file


def match_header(filename: str, row: int, columns: Sequence[str]) -> Header:
    """Header names -> its kind, matched order-, case- and whitespace-insensitively.
    Raises ReturnRejected listing every header problem: rows cannot be read without it."""
    problems: list[ReturnProblem] = []
    written: dict[str, str] = {}
    for name in columns:
        canonical = name.strip().lower()
        if canonical in written:
            message = f"duplicate column {shown(name)} (expected each column once)"
            problems.append(ReturnProblem(filename, row, name, message))
        written.setdefault(canonical, name)
    present = set(written)
    scores = {kind: len(present & set(cols)) for kind, cols in HEADERS.items() if present & _DISTINCT[kind]}
    best = max(scores.values(), default=0)
    closest = [kind for kind, score in scores.items() if score == best]
    if len(closest) != 1:
        alternatives = [f"a {LABELS[k]} header {header_line(k)}" for k in HEADERS]
        expected = f"{', '.join(alternatives[:-1])} or {alternatives[-1]}"
        problems.append(ReturnProblem(
            filename, row, WHOLE_FILE, f"unrecognised header {shown(','.join(columns))} (expected {expected})"
        ))
        raise ReturnRejected(problems)
    kind = closest[0]
    missing = [c for c in HEADERS[kind] if c not in present]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        problems.append(ReturnProblem(
            filename, row, WHOLE_FILE, f"missing {noun} {_quoted(missing)} (expected {expected_header(kind)})"
        ))
    for canonical, name in written.items():
        if canonical not in HEADERS[kind]:
            problems.append(ReturnProblem(
                filename, row, name, f"unexpected column {shown(name)} (expected only {expected_header(kind)})"
            ))
    if problems:
        raise ReturnRejected(problems)
    return Header(kind, {c: written[c] for c in HEADERS[kind]})


class RowChecker:
    """Checks the rows of one kind of return; problems accumulate in `.problems`."""

    kind: ClassVar[str]

    def __init__(self, filename: str, header: Header, lookup: MeasureLookup, latest_period: str | None = None):
        self.file = filename
        self.latest_period = latest_period  # 'YYYY-MM' of the month the return lands in; None: no limit
        self.columns = header.names
        self.lookup = lookup
        self.problems: list[ReturnProblem] = []
        self.rows = 0
        self.provider: str | None = None
        self._provider_row = 0
        self._provider_text: str | None = None  # last valid cell text, to skip re-checking it
        self._seen: dict[tuple[str, str], int] = {}  # duplicate key -> first row

    # -- helpers -----------------------------------------------------------------------
    def problem(self, row: int, column: str, message: str) -> None:
        self.problems.append(ReturnProblem(self.file, row, self.columns.get(column, WHOLE_FILE), message))

    def text(self, cells: Cells, column: str) -> str:
        raw = cells.get(self.columns[column])
        return raw.strip() if raw else ""

    def first_row(self, key: tuple[str, str], row: int) -> int | None:
        """The earlier row with the same key, if any."""
        earlier = self._seen.setdefault(key, row)
        return earlier if earlier != row else None

    # -- common columns ----------------------------------------------------------------
    def check(self, row: int, cells: Cells) -> Observation | None:
        self.rows += 1
        stray = cells.get(UNNAMED)
        if stray is not None:
            self.problem(row, WHOLE_FILE, f"unexpected value {shown(stray.strip())} in a column with no name "
                                          f"(expected only {expected_header(self.kind)})")
        self.check_provider(row, self.text(cells, "provider"))
        period_text = self.text(cells, "period")
        try:
            period = parse_period(period_text)
        except CellError as e:
            self.problem(row, "period", str(e))
            period = None
        if period is not None and self.latest_period is not None and period > self.latest_period:
            # once landed, every real month after it would count as late and the alert would freeze
            self.problem(row, "period", f"period {period} is after this month ({self.latest_period}) "
                                        "(expected a month that has begun)")
        return self.check_row(row, cells, period)

    def finish(self) -> None:
        """Checks over the whole return, once every row is read."""

    def check_provider(self, row: int, text: str) -> None:
        if text == self._provider_text:
            return
        provider = text.lower()
        if not _PROVIDER.fullmatch(provider):
            self.problem(row, "provider", f"expected a provider of lower-case letters, digits, '-' or '_' "
                                          f"(e.g. sandwell), got {got(text)}")
        elif self.provider is None:
            self.provider, self._provider_row, self._provider_text = provider, row, text
        elif provider != self.provider:
            self.problem(row, "provider", f"provider {shown(provider)} differs from {shown(self.provider)} on row "
                                          f"{self._provider_row} (expected one provider per return)")

    def check_row(self, row: int, cells: Cells, period: str | None) -> Observation | None:
        raise NotImplementedError

    def number(self, row: int, column: str, text: str, unit: str | None,
               info: MeasureLike | None = None) -> float | None:
        """A value cell by its unit, then the measure's plausible range; blank is None (not
        reported), never zero."""
        if not text:
            return None
        try:
            value = parse_money(text) if unit == "gbp" else parse_number(text, percent=unit in (None, "percent"))
        except CellError as e:
            self.problem(row, column, str(e))
            return None
        limit = UNIT_LIMITS.get(unit or "")
        if unit == "percent" and not 0 <= value <= 100:
            self.problem(row, column, f"expected a percentage between 0 and 100, got {shown(text)}")
        elif unit in ("count", "rate_per_10000") and value < 0:
            what = "a count" if unit == "count" else "a rate"
            self.problem(row, column, f"expected {what} of 0 or more, got {shown(text)}")
        elif limit is not None and abs(value) > limit:
            self.problem(row, column, f"expected a value of at most {amount(limit, unit)} in size, got {shown(text)}")
        else:
            plausible = info.plausible if info is not None else None
            if info is not None and plausible is not None and not plausible.min <= value <= plausible.max:
                self.problem(row, column, f"expected a value from {amount(plausible.min, unit)} to "
                                          f"{amount(plausible.max, unit)} (the plausible range for {info.key} in its "
                                          f"rule pack), got {shown(text)}")
        return value


class KpiChecker(RowChecker):
    kind = KPI

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.percentages = 0  # percentage values given
        self.fractions = 0  # of which between 0 and 1, without a % sign
        self.first_fraction = 0  # row of the first of those
        self.above_zero = False  # one of those is above 0 (all zeros read the same either way)

    def finish(self) -> None:
        # 0.816 for 81.6% is what a CSV saved from a percent-formatted sheet holds; every
        # value in [0, 1] is the sign (one small genuine value among normal ones is not).
        if self.percentages >= 2 and self.fractions == self.percentages and self.above_zero:
            self.problems.append(ReturnProblem(
                self.file, self.first_fraction, self.columns["value"],
                f"{FRACTIONS} (all {self.percentages} percentage values in this return lie between 0 and 1, as "
                "fractions do)"))

    def count_percentage(self, row: int, text: str, value: float) -> None:
        self.percentages += 1
        if 0 <= value <= 1 and not text.endswith("%"):
            self.fractions += 1
            self.first_fraction = self.first_fraction or row
            self.above_zero = self.above_zero or value > 0

    def check_row(self, row: int, cells: Cells, period: str | None) -> Observation | None:
        token = self.text(cells, "indicator")
        info = None
        if not token:
            self.problem(row, "indicator", "expected an indicator key or contract code (e.g. PI1), got a blank cell")
        elif period is not None:
            info = self.lookup.resolve(KPI, token, period)
            if info is None:
                self.problem(row, "indicator", f"unknown indicator {shown(token)} for period {period} "
                                               "(expected an indicator key or a contract code in force then)")
        text = self.text(cells, "value")
        value = self.number(row, "value", text, info.unit if info else None, info)
        if value is not None and info is not None and info.unit == "percent":
            self.count_percentage(row, text, value)
        if info is None or period is None:
            return None
        earlier = self.first_row((period, info.key), row)
        if earlier is not None:
            same = "" if token == info.key else f" ({info.key})"
            self.problem(row, "indicator", f"duplicate row: indicator {shown(token)}{same} for {period} was already "
                                           f"given on row {earlier} (expected one row per period and indicator)")
        return Observation(period, info.key, value, row)


class FinanceChecker(RowChecker):
    kind = FINANCE

    def check_row(self, row: int, cells: Cells, period: str | None) -> Observation | None:
        token = self.text(cells, "measure")
        measure = token.lower()
        if not token:
            self.problem(row, "measure", f"expected a finance measure (one of {', '.join(FINANCE_MEASURES)}), "
                                         "got a blank cell")
        elif measure not in FINANCE_MEASURES:
            self.problem(row, "measure", f"unknown finance measure {shown(token)} (expected one of "
                                         f"{', '.join(FINANCE_MEASURES)})")
        # The catalogue may key a finance measure differently; the five names are the interface.
        info = self.lookup.resolve(FINANCE, measure, period) if measure in FINANCE_MEASURES and period else None
        value = self.number(row, "value", self.text(cells, "value"), "gbp", info)
        if measure not in FINANCE_MEASURES or period is None:
            return None
        key = info.key if info is not None else measure
        earlier = self.first_row((period, key), row)
        if earlier is not None:
            self.problem(row, "measure", f"duplicate row: measure {shown(token)} for {period} was already given on row "
                                         f"{earlier} (expected one row per period and measure)")
        return Observation(period, key, value, row)


class CaseloadChecker(RowChecker):
    kind = CASELOAD

    def name(self, row: int, cells: Cells, column: str, what: str) -> str | None:
        text = self.text(cells, column)
        if not text or len(text) > NAME_MAX:
            found = "a blank cell" if not text else f"{len(text)} characters"
            self.problem(row, column, f"expected {what} of 1 to {NAME_MAX} characters, got {found}")
            return None
        where = control_character(text)
        if where is not None:  # an escape sequence or a line break would reach every message and terminal
            self.problem(row, column, f"expected {what} without control characters, got {shown(text)}{where}")
            return None
        return text

    def check_row(self, row: int, cells: Cells, period: str | None) -> Observation | None:
        team = self.name(row, cells, "team", "a team name")
        service_text = self.text(cells, "service")
        service = service_text.lower()
        if service not in SERVICES:
            self.problem(row, "service", f"expected a service (one of {', '.join(SERVICES)}), got {got(service_text)}")
        worker = self.name(row, cells, "worker", "a worker name or ID")
        asye = None
        try:
            asye = parse_bool(self.text(cells, "asye"))
        except CellError as e:
            self.problem(row, "asye", str(e))
        caseload = self.caseload(row, self.text(cells, "caseload"), period)
        if period is not None and worker is not None:
            earlier = self.first_row((period, worker.casefold()), row)
            if earlier is not None:
                self.problem(row, "worker", f"duplicate row: worker {shown(worker)} for {period} was already given "
                                            f"on row {earlier} (expected one row per period and worker)")
        if period is None or team is None or worker is None or asye is None or service not in SERVICES:
            return None
        return Observation(period, "caseload", caseload, row, team=team, service=service, worker=worker, asye=asye)

    def caseload(self, row: int, text: str, period: str | None) -> float | None:
        if not text:
            return None  # not reported
        try:
            value = parse_number(text)
        except CellError as e:
            self.problem(row, "caseload", str(e))
            return None
        info = self.lookup.resolve(CASELOAD, "caseload", period) if period else None
        plausible = info.plausible if info is not None else None
        if value < 0:
            self.problem(row, "caseload", f"expected a caseload of 0 or more, got {shown(text)}")
        elif not value.is_integer():
            self.problem(row, "caseload", f"expected a whole number of cases, got {shown(text)}")
        elif value > UNIT_LIMITS["count"]:
            self.problem(row, "caseload", f"expected a caseload of at most {amount(UNIT_LIMITS['count'], None)}, "
                                          f"got {shown(text)}")
        elif plausible is not None and not plausible.min <= value <= plausible.max:
            self.problem(row, "caseload", f"expected a caseload from {amount(plausible.min, None)} to "
                                          f"{amount(plausible.max, None)} (the plausible range in its rule pack), "
                                          f"got {shown(text)}")
        return value


CHECKERS: dict[str, type[RowChecker]] = {c.kind: c for c in (KpiChecker, FinanceChecker, CaseloadChecker)}
