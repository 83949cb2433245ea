"""The one vocabulary: how a rating is said, and in what order ratings rank. Pure.

The trust's own words (its annual review and the contract's KPI table): a KPI is "on target"
(green), "within tolerance" (amber) or "in failure" (red). "Breach" is said of failure only.
Every door and message (command line, demo, web, email, Teams card, digest, reports) takes its
words and its severity order from here, so no two places can disagree.
"""

from __future__ import annotations

from typing import Final

RATINGS: Final = ("green", "amber", "red")  # best first
SEVERITY: Final = {"green": 0, "amber": 1, "red": 2}

# "PI1 is within tolerance"
STATUS: Final = {"green": "on target", "amber": "within tolerance", "red": "in failure"}
# the colour beside the words, for a tag or a subject: "[RED]"
COLOUR: Final = {"green": "green", "amber": "amber", "red": "red"}
# how the contract names each band when it states it: "Target: 85% or more. Within tolerance: ..."
BAND: Final = {"green": "Target", "amber": "Within tolerance", "red": "Failure"}


def status(rating: str | None) -> str:
    """'on target' | 'within tolerance' | 'in failure'; 'not rated' for None or an unknown word."""
    return STATUS.get(rating or "", "not rated")


def severity(rating: str | None) -> int:
    """0 green, 1 amber, 2 red; -1 for not rated (ranks below green)."""
    return SEVERITY.get(rating or "", -1)


def worst(ratings: list[str | None] | tuple[str | None, ...]) -> str | None:
    """The most severe rating of several (None when none is rated)."""
    rated = [r for r in ratings if r in SEVERITY]
    return max(rated, key=SEVERITY.__getitem__) if rated else None


def labelled(rating: str | None) -> str:
    """'red, in failure': colour and words together, for readers who cannot see colour."""
    return f"{COLOUR[rating]}, {STATUS[rating]}" if rating in STATUS else "not rated"


# --- what a change says, said once for every message (email, Teams card, digest, CLI) ------------

# The order a message counts its changes in, most important first: what fell into failure, what
# stays there, what fell within tolerance, ..., what came back on target.
CHANGE_ORDER: Final = ("in failure", "still in failure", "within tolerance", "still within tolerance",
                       "now within tolerance", "corrected", "back on target")


def change(kind: str, to_state: str | None) -> str:
    """What an alert event says of where it leaves the indicator, in the trust's words:
    opened or escalated: 'in failure' | 'within tolerance' (never 'breached' for amber);
    de-escalated: 'now within tolerance'; resolved: 'back on target'; a reminder: 'still in
    failure' | 'still within tolerance'; a correction: 'corrected'."""
    if kind == "resolved":
        return "back on target"
    if kind == "corrected":
        return "corrected"
    if kind == "reminder":
        return f"still {status(to_state)}"
    if kind == "deescalated":
        return f"now {status(to_state)}"
    return status(to_state)


def was(from_state: str | None) -> str:
    """' (was within tolerance)': where the indicator stood before a change ('' for none)."""
    return f" (was {status(from_state)})" if from_state in STATUS else ""


def counted(n: int, noun: str) -> str:
    """'1 KPI', '2 KPIs', 'none' for 0 where the count leads ('no KPIs')."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s" if n else f"no {noun}s"


def position(counts: dict | None, noun: str = "KPI", worst_first: bool = False) -> str:
    """Where a set of indicators stands: '10 KPIs on target, 5 within tolerance, none in
    failure' (the trust's order, as its reviews report it); `worst_first`, for a subject or a
    headline that leads with what matters: '2 KPIs in failure, 5 within tolerance, 8 on target'."""
    counts = counts or {}
    order = tuple(reversed(RATINGS)) if worst_first else RATINGS
    parts = []
    for i, rating in enumerate(order):
        n = int(counts.get(rating, 0))
        parts.append(f"{counted(n, noun)} {STATUS[rating]}" if i == 0 else f"{n or 'none'} {STATUS[rating]}")
    return ", ".join(parts)


# --- whose figures: a provider, team or worker named for people ---------------------------------


def provider_name(provider: str) -> str:
    """'sandwell' -> 'Sandwell', 'north-east_lincs' -> 'North East Lincs'."""
    return provider.replace("-", " ").replace("_", " ").title()


def subject_name(subject: str) -> str:
    """A rated subject (rules.evaluate.subject_for) for people: 'sandwell' -> 'Sandwell',
    'sandwell/team/cwcf-1' -> 'Sandwell, team cwcf-1', 'sandwell/worker/SW-1' -> 'Sandwell, worker SW-1'."""
    provider, _, rest = subject.partition("/")
    return provider_name(provider) + (f", {rest.replace('/', ' ', 1)}" if rest else "")


KIND_NAMES: Final = {"kpi": "KPI", "finance": "finance", "caseload": "caseload"}  # 'the KPI return'


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


# comparators a pack names (statistical neighbours first, then England, then the region)
COMPARATOR_NAMES: Final = {"statistical_neighbour_average": "statistical neighbours", "england_average": "England",
                           "west_midlands_average": "West Midlands"}


def comparator_name(name: str) -> str:
    """'england_average' -> 'England'; a name this does not know, in words ('north_west_average' -> 'north west')."""
    return COMPARATOR_NAMES.get(name, name.removesuffix("_average").replace("_", " "))
