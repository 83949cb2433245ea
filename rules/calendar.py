"""The expected-returns calendar: which returns are due when, and which are late or missing. Pure.

Each pack says which returns it expects (`settings.returns`, per kind: by which day of the month
after the period, and how many days' grace; a contract suite's pack without it expects its KPI
return by `return_due_day`). For one (provider, kind, period) and a day `as_of` (local dates):

- `submitted`: a return of that kind covering the period landed by its due day;
- `late`: it landed after its due day;
- `missing`: nothing landed, and the due day and the grace have passed;
- `not_due`: nothing landed yet, and it is not missing yet.

A return landed after `as_of` has not landed as of then. Any landed return counts, whatever it
holds: a 0 is a value reported, and a blank is "not reported" in a return that was submitted.
The providers are those that have landed a return of the kind (and those a pack expecting it
names); the periods run from the first one a provider landed of the kind (a named provider that
never landed: from its pack's `effective_from`, else the last month) to the last month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from rules.catalog import Catalog
from rules.model import ReturnDue
from rules.periods import period_from_index, period_index, period_start

Status = Literal["not_due", "submitted", "late", "missing"]
STATUSES: tuple[Status, ...] = ("not_due", "submitted", "late", "missing")

# (provider, kind) -> period -> when the first return covering it landed (aware UTC)
Landed = Mapping[tuple[str, str], Mapping[str, dt.datetime]]


@dataclass(frozen=True)
class Deadline:
    due: dt.date  # landed on this day or before: in time
    missing_after: dt.date  # the last day of grace: nothing landed by the end of it is missing


@dataclass(frozen=True)
class CalendarRow:
    provider: str
    kind: str
    period: str
    due: dt.date
    missing_after: dt.date
    status: Status
    landed_at: dt.datetime | None  # the first return covering the period, if it landed by as_of


def deadline(period: str, expected: ReturnDue) -> Deadline:
    """The period's return is due on `due_day` of the next month, missing after the grace."""
    year, month = divmod(period_index(period) + 1, 12)
    due = dt.date(year, month + 1, expected.due_day)
    return Deadline(due, due + dt.timedelta(days=expected.grace_days))


def status(when: Deadline, landed_on: dt.date | None, as_of: dt.date) -> Status:
    """`landed_on`: the local day the first return for the period landed, if any."""
    if landed_on is not None and landed_on <= as_of:
        return "submitted" if landed_on <= when.due else "late"
    return "missing" if as_of > when.missing_after else "not_due"


def expectation(catalog: Catalog, provider: str, kind: str, period: str) -> ReturnDue | None:
    """When `provider`'s `kind` return for `period` is due: the packs in force for the period
    that apply to the provider and expect it (the earliest due day if several do); None if none."""
    day = period_start(period)
    found = [p.expected_returns[kind] for p in catalog.packs
             if kind in p.expected_returns and p.in_force(day) and p.applies_to_provider(provider)]
    return min(found, key=lambda r: (r.due_day, r.grace_days), default=None)


def next_return(catalog: Catalog, provider: str, kind: str, after: str, as_of: dt.date
                ) -> tuple[str, Deadline, Status] | None:
    """The return `provider` owes of `kind` after the period `after`: its period, deadline and
    status as of `as_of` with nothing landed for it yet (not_due or missing); None when no pack
    expects it."""
    period = period_from_index(period_index(after) + 1)
    expected = expectation(catalog, provider, kind, period)
    if expected is None:
        return None
    when = deadline(period, expected)
    return period, when, status(when, None, as_of)


def expected_kinds(catalog: Catalog) -> list[str]:
    return sorted({k for p in catalog.packs for k in p.expected_returns})


def _named(catalog: Catalog, kind: str) -> dict[str, str | None]:
    """Providers a pack expecting `kind` names -> the first period it expects (None: the last month)."""
    out: dict[str, str | None] = {}
    for p in catalog.packs:
        if kind not in p.expected_returns:
            continue
        start = f"{p.effective_from.year:04d}-{p.effective_from.month:02d}" if p.effective_from else None
        for provider in p.providers:
            seen = out.get(provider, start)
            out[provider] = min(seen, start) if seen and start else None
    return out


def local_day(at: dt.datetime, timezone: str) -> dt.date:
    return at.astimezone(ZoneInfo(timezone)).date()


def calendar(catalog: Catalog, landed: Landed, as_of: dt.date, timezone: str = "Europe/London",
             providers: Iterable[str] | None = None, kinds: Iterable[str] | None = None) -> list[CalendarRow]:
    """One row per provider, kind and period expected, by provider, kind and period."""
    last = period_from_index(period_index(f"{as_of.year:04d}-{as_of.month:02d}") - 1)
    only = set(providers) if providers is not None else None
    rows = []
    for kind in sorted(set(kinds) if kinds is not None else expected_kinds(catalog)):
        named = _named(catalog, kind)
        for provider in sorted({p for p, k in landed if k == kind} | set(named)):
            if only is not None and provider not in only:
                continue
            ever = landed.get((provider, kind), {})
            held = {period: at for period, at in ever.items() if local_day(at, timezone) <= as_of}
            first = min(ever) if ever else (named.get(provider) or last)
            end = max([last, *held])
            for i in range(period_index(first), period_index(end) + 1):
                period = period_from_index(i)
                expected = expectation(catalog, provider, kind, period)
                if expected is None:
                    continue
                when = deadline(period, expected)
                at = held.get(period)
                rows.append(CalendarRow(provider, kind, period, when.due, when.missing_after,
                                        status(when, local_day(at, timezone) if at else None, as_of), at))
    return rows


def missing_periods(rows: Iterable[CalendarRow]) -> dict[tuple[str, str], list[str]]:
    """(provider, kind) -> its missing periods, oldest first."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.status == "missing":
            out.setdefault((r.provider, r.kind), []).append(r.period)
    return {k: sorted(v) for k, v in out.items()}
