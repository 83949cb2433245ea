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

    def __str__(self) -> str:
        return f"{self.file}:{self.row}:{self.column}: {self.message}"


class ReturnRejected(Exception):
    """The return was rejected; `.problems` lists every reason."""

    def __init__(self, problems: Iterable[ReturnProblem]):
        self.problems: list[ReturnProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickle (e.g. a Celery result) with the problems, not the joined text
        return (type(self), (self.problems,))


def reject(file: str, row: int, message: str, column: str = WHOLE_FILE) -> ReturnRejected:
    """A rejection for one problem (file-level problems stop reading at once)."""
    return ReturnRejected([ReturnProblem(file, row, column, message)])
