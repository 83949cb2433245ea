"""The measure lookup a return is checked against.

The real implementation is `rules.catalog.Catalog`; returns/ depends only on this
protocol so it stays importable and testable without loading rule packs.
"""

from __future__ import annotations

from typing import Protocol


class MeasureLike(Protocol):
    """The parts of `rules.catalog.MeasureInfo` a return needs."""

    @property
    def key(self) -> str: ...

    @property
    def unit(self) -> str: ...  # 'percent' | 'rate_per_10000' | 'count' | 'gbp' | 'number'

    @property
    def plausible(self) -> PlausibleLike | None: ...  # the pack's plausible range, if it gives one


class PlausibleLike(Protocol):
    """`rules.model.Plausible`: the values a return may give at all, min < max."""

    @property
    def min(self) -> float: ...

    @property
    def max(self) -> float: ...


class MeasureLookup(Protocol):
    def resolve(self, kind: str, token: str, period: str) -> MeasureLike | None:
        """A key or contract code -> its measure in force for `period`, or None."""
        ...
