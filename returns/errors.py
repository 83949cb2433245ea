"""Problems found in a return. A return is accepted whole or rejected whole, so every
problem is collected and reported together, each pointing at a cell a person can find."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

WHOLE_FILE = "-"  # the column of a problem that is not about one column


@dataclass(frozen=True)
class ReturnProblem:
    file: str
    row: int  # 1-based as seen in Excel / an editor; 0 for a whole-file problem
    column: str  # header name as written in the file, or '-'
    message: str  # says what was expected and what was found
    last_row: int | None = None  # the same problem on every row from `row` to here (see condense)

    def __str__(self) -> str:
        rows = f"{self.row}-{self.last_row}" if self.last_row is not None else f"{self.row}"
        return f"{self.file}:{rows}:{self.column}: {self.message}"


class ReturnRejected(Exception):
    """The return was rejected; `.problems` lists every reason, `.kind` the kind its header
    named (None when no header was recognised)."""

    def __init__(self, problems: Iterable[ReturnProblem], kind: str | None = None):
        self.problems: list[ReturnProblem] = list(problems)
        self.kind = kind
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickle (e.g. a Celery result) with the problems, not the joined text
        return (type(self), (self.problems, self.kind))


SHOWN_PROBLEMS = 100  # a report lists at most this many, then says how many more


def condense(problems: Iterable[ReturnProblem]) -> list[ReturnProblem]:
    """The same problem (file, column and message) on consecutive rows -> one problem with
    the row range, in the place of its first row: 15 identical lines say less than one."""
    out: list[ReturnProblem] = []
    latest: dict[tuple[str, str, str], int] = {}  # key -> index in `out` of its latest run
    for p in problems:
        key = (p.file, p.column, p.message)
        at = latest.get(key)
        if at is not None and p.row > 0 and (out[at].last_row or out[at].row) + 1 == p.row:
            out[at] = ReturnProblem(p.file, out[at].row, p.column, p.message, p.last_row or p.row)
            continue
        latest[key] = len(out)
        out.append(p)
    return out


def problem_lines(problems: Iterable[ReturnProblem], limit: int = SHOWN_PROBLEMS) -> list[str]:
    """At most `limit` located lines, then one line saying how many more there are."""
    problems = list(problems)
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        more = len(problems) - limit
        lines.append(f"and {more} more problem{'s' if more != 1 else ''}")
    return lines


def reject(file: str, row: int, message: str, column: str = WHOLE_FILE) -> ReturnRejected:
    """A rejection for one problem (file-level problems stop reading at once)."""
    return ReturnRejected([ReturnProblem(file, row, column, message)])
