"""Queries: what in a return is plausible but doubtful, so the sender is asked to confirm it
before it counts (the census model: an error rejects the return, a query holds it).

- A value far outside its measure's own recent history (KPI returns): beyond the natural
  process limits of the last up to HISTORY_MONTHS months (mean +/- 2.66 x the mean moving
  range, an XmR chart's), widened by as much again (or by a quarter of the values' size,
  whichever is larger), never narrower than the range the history itself spans. Judged only with at least
  MIN_HISTORY values: a short history says too little.
- A period whose every value equals the previous period's (at least MIN_IDENTICAL values):
  last month's figures relabelled.

Pure: the caller reads the stored history (current values of earlier periods) and passes it
in as plain data; a query is located like a rejection (FILE:ROW:COLUMN).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from returns.model import Observation, ParsedReturn

HISTORY_MONTHS = 12  # the recent months a value is judged against
MIN_HISTORY = 6  # values needed before a value is judged at all
MIN_IDENTICAL = 3  # values that must all repeat before a period counts as relabelled
SIGMA = 2.66  # an XmR chart's natural process limits: mean +/- 2.66 x the mean moving range
RELATIVE_MARGIN = 0.25  # the least widening: a quarter of the history's largest size
# Caseloads per worker are noisy and finance figures are cumulative (year to date resets in
# April): only KPI values are judged against their history. Every kind can be relabelled.
OUTLIER_KINDS = ("kpi",)
ADVICE = "confirm it or send a corrected file"


@dataclass(frozen=True)
class ReturnQuery:
    file: str
    row: int
    column: str  # the header as written in the file
    message: str
    last_row: int | None = None  # a query about every row from `row` to here

    def __str__(self) -> str:
        rows = f"{self.row}-{self.last_row}" if self.last_row is not None else f"{self.row}"
        return f"{self.file}:{rows}:{self.column}: query: {self.message}"

    def as_dict(self) -> dict:
        """As stored with the return (returns.queries): the file is the return's own."""
        found: dict = {"row": self.row, "column": self.column, "message": self.message}
        if self.last_row is not None:
            found["last_row"] = self.last_row
        return found

    @classmethod
    def from_dict(cls, file: str, found: dict) -> ReturnQuery:
        return cls(file, int(found["row"]), str(found["column"]), str(found["message"]), found.get("last_row"))


class ValueLike(Protocol):
    """A stored observation, as far as a query needs it."""

    @property
    def period(self) -> str: ...

    @property
    def measure(self) -> str: ...

    @property
    def value(self) -> float | None: ...

    @property
    def worker(self) -> str | None: ...


@dataclass(frozen=True)
class Limits:
    low: float
    high: float
    seen_low: float  # the history's own range, for the message
    seen_high: float
    values: int

    def outside(self, value: float) -> bool:
        return value < self.low or value > self.high


def limits(history: Sequence[float]) -> Limits | None:
    """How far a next value may lie from `history` (oldest first) before it is far outside;
    None when the history is too short (or flat at zero) to say."""
    if len(history) < MIN_HISTORY:
        return None
    mean = sum(history) / len(history)
    moving = sum(abs(b - a) for a, b in zip(history, history[1:], strict=False)) / (len(history) - 1)
    natural = SIGMA * moving
    widen = max(natural, RELATIVE_MARGIN * max(abs(v) for v in history))
    if widen == 0:  # every value 0: nothing to scale a margin by
        return None
    seen_low, seen_high = min(history), max(history)
    return Limits(min(mean - natural, seen_low) - widen, max(mean + natural, seen_high) + widen,
                  seen_low, seen_high, len(history))


def series_key(measure: str, worker: str | None) -> str:
    """One series: a measure, or a caseload worker's (names compared as the parser does)."""
    return measure if worker is None else f"{measure}/{worker.casefold()}"


def period_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def period_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def wanted_periods(parsed: ParsedReturn) -> list[str]:
    """The earlier periods whose stored values `find_queries` reads: the HISTORY_MONTHS before
    each period for a kind judged against history, else the one before each."""
    back = HISTORY_MONTHS if parsed.kind in OUTLIER_KINDS else 1
    found = {period_of(period_index(p) - i) for p in parsed.periods for i in range(1, back + 1)}
    return sorted(found - set(parsed.periods))


def number(value: float) -> str:
    """18.6, 86.4, 1,250, 96,720,000: as a person reads it."""
    return f"{value:,.10g}"


def find_queries(parsed: ParsedReturn, stored: Iterable[ValueLike],
                 label: Callable[[str, str], str] | None = None) -> list[ReturnQuery]:
    """Every query in `parsed`, in row order. `stored`: the current values of the periods before
    the return's (`wanted_periods`); the return's own values of a period replace them.
    `label(measure, period)`: how a message names a measure (a contract code), default its key."""
    name = label or (lambda measure, _period: measure)
    values: dict[str, dict[int, float]] = defaultdict(dict)  # series -> period index -> value
    for o in stored:
        if o.value is not None:
            values[series_key(o.measure, o.worker)][period_index(o.period)] = o.value
    own: dict[int, list[Observation]] = defaultdict(list)
    for o in parsed.observations:
        own[period_index(o.period)].append(o)
    for index, rows in own.items():  # the return restates its own periods
        for key in {series_key(o.measure, o.worker) for o in rows}:
            values[key].pop(index, None)
        for o in rows:
            if o.value is not None:
                values[series_key(o.measure, o.worker)][index] = o.value
    found = [*_relabelled(parsed, own, values)]
    if parsed.kind in OUTLIER_KINDS:
        found += _far_outside(parsed, values, name)
    return sorted(found, key=lambda q: (q.row, q.column))


def _far_outside(parsed: ParsedReturn, values: dict[str, dict[int, float]],
                 name: Callable[[str, str], str]) -> Iterable[ReturnQuery]:
    column = parsed.column("value")
    for o in parsed.observations:
        if o.value is None:
            continue
        series = values[series_key(o.measure, o.worker)]
        at = period_index(o.period)
        history = [series[i] for i in range(at - HISTORY_MONTHS, at) if i in series]
        bounds = limits(history)
        if bounds is None or not bounds.outside(o.value):
            continue
        span = at - min(i for i in range(at - HISTORY_MONTHS, at) if i in series)
        months = f"last {span} months" if span == bounds.values else f"{bounds.values} values in the last {span} months"
        yield ReturnQuery(parsed.filename, o.row, column,
                          f"{number(o.value)} is far outside {name(o.measure, o.period)}'s {months} "
                          f"({number(bounds.seen_low)} to {number(bounds.seen_high)}); {ADVICE}")


def _relabelled(parsed: ParsedReturn, own: dict[int, list[Observation]],
                values: dict[str, dict[int, float]]) -> Iterable[ReturnQuery]:
    column = parsed.column("period")
    for index, rows in sorted(own.items()):
        given = {series_key(o.measure, o.worker): o.value for o in rows if o.value is not None}
        before = {key: series[index - 1] for key in given if (series := values.get(key)) and index - 1 in series}
        if len(given) < MIN_IDENTICAL or before != given:
            continue
        period, previous = period_of(index), period_of(index - 1)
        first, last = min(o.row for o in rows), max(o.row for o in rows)
        yield ReturnQuery(parsed.filename, first, column,
                          f"all {len(given)} values for {period} equal {previous}'s: {previous}'s figures "
                          f"relabelled? {ADVICE}", last if last != first else None)
