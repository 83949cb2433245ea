"""The rule catalogue a process runs on: the packs, loaded once, and only if they pass every
check (`kpi-alerts rules check` lists the same problems)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rules.catalog import Catalog
from rules.check import check_packs
from rules.pack_file import PackProblem

SHIPPED_PACKS = Path(__file__).parent / "packs"


class PackError(Exception):
    def __init__(self, problems: list[PackProblem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


@lru_cache(maxsize=8)
def load_catalog(path: Path = SHIPPED_PACKS) -> Catalog:
    """A catalogue from packs that pass every check, or PackError listing the problems."""
    loaded, problems = check_packs(Path(path))
    if problems:
        raise PackError(problems)
    return Catalog([lp.pack for lp in loaded])
