"""Which periods the rule packs cover for a kind of return: a month is covered when, on its
first day, a pack in force has a rule of that kind with a version in force, as rating a return
reads them. A return for a month no rule covers would land with no rating at all, so it is
rejected instead (alerts/usecases/ingest.py), naming what is covered. (For any provider: a pack
scoped to some providers leaves the others' returns landing unrated, as before; the hole this
closes is a month no pack covers at all.) Pure."""

from __future__ import annotations

import datetime as dt

from rules.catalog import Catalog
from rules.periods import period_from_index, period_index

Span = tuple[int, int | None]  # months (period_index) from, to inclusive; None: no end


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def covered(catalog: Catalog, kind: str) -> list[Span]:
    """The months covered for returns of `kind`, as sorted, disjoint spans."""
    spans: list[Span] = []
    for bound in catalog.rules:
        if bound.rule.kind != kind or bound.rule.rated_by != "return":
            continue
        pack = bound.pack
        for version in bound.rule.versions:
            start = max(version.effective_from, pack.effective_from or version.effective_from)
            ends = [d for d in (version.effective_to, pack.effective_to) if d is not None]
            end = min(ends) if ends else None
            if end is not None and end < start:
                continue
            first = _month(start) + (start.day != 1)  # a month counts from its first day
            last = _month(end) if end is not None else None
            if last is None or first <= last:
                spans.append((first, last))
    merged: list[Span] = []
    for first, last in sorted(spans, key=lambda s: s[0]):
        if merged:
            top_first, top_last = merged[-1]
            if top_last is None or first <= top_last + 1:
                merged[-1] = (top_first, None if top_last is None or last is None else max(top_last, last))
                continue
        merged.append((first, last))
    return merged


def covers(spans: list[Span], period: str) -> bool:
    month = period_index(period)
    return any(first <= month and (last is None or month <= last) for first, last in spans)


def describe(spans: list[Span]) -> str:
    """'2018-04 to 2022-03 and 2024-04 onwards'; 'no period' when there is none."""
    if not spans:
        return "no period"
    parts = [f"{period_from_index(first)} onwards" if last is None
             else period_from_index(first) if first == last
             else f"{period_from_index(first)} to {period_from_index(last)}" for first, last in spans]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
