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
