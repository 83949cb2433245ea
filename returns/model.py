"""What a parsed return is: plain frozen data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Observation:
    period: str  # 'YYYY-MM'
    measure: str  # resolved measure key ('caseload' for caseload rows)
    value: float | None  # None = not reported (a blank cell), never zero
    row: int  # where it came from, for messages downstream
    team: str | None = None
    service: str | None = None
    worker: str | None = None
    asye: bool | None = None


@dataclass(frozen=True)
class ParsedReturn:
    filename: str
    kind: str  # 'kpi' | 'finance' | 'caseload'
    provider: str
    periods: tuple[str, ...]  # sorted, unique
    observations: tuple[Observation, ...]  # in file order
    sha256: str  # hex digest of the raw bytes, to spot re-submissions
    # canonical column -> its header as written in the file ('value' -> 'Value'), to locate
    # what is found after parsing (queries, periods no rule covers)
    columns: dict[str, str] = field(default_factory=dict, compare=False)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)
