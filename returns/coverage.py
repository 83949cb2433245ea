"""Rows of a return whose period no rule covers: located problems that reject it whole (a
return rated by nothing would land "accepted" with no rating, and its sender would believe the
month is in). Which periods are covered is the rule packs' to say (rules/coverage.py). Pure."""

from __future__ import annotations

from collections.abc import Callable

from returns.errors import ReturnProblem, condense
from returns.kinds import LABELS
from returns.model import ParsedReturn


def uncovered(parsed: ParsedReturn, covers: Callable[[str], bool], covering: str) -> list[ReturnProblem]:
    """One problem per row whose period `covers` says no to (consecutive rows condensed);
    `covering`: the periods that are covered, in words ('2018-04 to 2022-03 and 2024-04 onwards')."""
    bad = {p for p in parsed.periods if not covers(p)}
    column = parsed.column("period")
    label = LABELS.get(parsed.kind, parsed.kind)
    return condense(ReturnProblem(parsed.filename, o.row, column, f"no rule in force covers {o.period} (the rule "
                                  f"packs cover {covering} for {label} returns)")
                    for o in parsed.observations if o.period in bad)
