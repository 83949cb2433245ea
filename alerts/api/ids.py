"""Row ids in paths, queries and bodies: a database integer is at most 2**63 - 1, and a bigger
one typed into a URL overflowed SQLite's and PostgreSQL's drivers into a 500. Out of range is
answered 422 (a path or query) or treated as no such row (404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

MAX_ID = 2**63 - 1

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def in_range(value: int | None) -> bool:
    """Whether `value` can be a row id (None: none asked)."""
    return value is None or 1 <= value <= MAX_ID


def out_of_range(error: dict[str, Any]) -> bool:
    """A request validation error that is an id in a path or query outside 1..MAX_ID."""
    loc = error.get("loc", ())
    name = str(loc[1]) if len(loc) == 2 else ""
    return (loc[0] in ("path", "query") and (name.endswith("id") or name == "subscriber")
            and error.get("type") in ("less_than_equal", "greater_than_equal"))
