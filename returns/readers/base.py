"""The reader contract: one class per file format, each turning bytes into a Sheet.

A reader knows only its format. It reports file-level problems (cannot decode, not a
workbook, invalid JSON, empty) by raising ReturnRejected; everything about what the
cells mean is left to returns.kinds.
"""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from returns.errors import WHOLE_FILE, ReturnProblem, reject

Cells = dict[str, str | None]
RawRow = tuple[int, Cells]  # (row number as a person sees it, {column as written: raw text or None})

UNNAMED = ""  # key for a non-blank cell that sits under no header name
EMPTY_FILE = "empty file (expected a header row and at least one data row)"
NO_DATA_ROWS = "no data rows (expected at least one row of data after the header)"


@dataclass
class Sheet:
    header_row: int  # where header problems are reported (0 when the format has no header row)
    columns: list[str]  # header names as written (trimmed), in file order, duplicates kept
    rows: Iterable[RawRow]
    # Problems a reader finds in a row as it reads it (a short CSV row, a formula without a
    # value): appended while `rows` is iterated, so read them after it.
    problems: list[ReturnProblem] = field(default_factory=list)


@dataclass(frozen=True)
class Caps:
    """What a reader may spend on one file (a format that can expand, XLSX, checks them before reading)."""

    rows: int = 200_000  # data rows (KPI_ALERTS_MAX_ROWS)
    columns: int = 50  # KPI_ALERTS_MAX_COLUMNS
    unpacked_bytes: int = 20 * 20 * 1024 * 1024  # 20 x KPI_ALERTS_MAX_RETURN_MB: an XLSX's members, unpacked


class Reader(ABC):
    extensions: ClassVar[tuple[str, ...]]  # lower-case, with the dot

    @abstractmethod
    def read(self, filename: str, data: bytes, caps: Caps | None = None) -> Sheet:
        """Raises ReturnRejected for a problem with the file as a whole."""


def decode_utf8(filename: str, data: bytes, advice: str) -> str:
    """Strict UTF-8 (BOM optional). A bad byte is reported by line so it can be found."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise reject(
            filename, line, f"not UTF-8 text: byte 0x{data[e.start]:02x} on line {line} cannot be decoded "
            f"(expected UTF-8; {advice})",
        ) from None


def _blank(cell: str | None) -> bool:
    return cell is None or not cell.strip()


def tabular(filename: str, rows: Iterator[tuple[int, Sequence[str | None]]], *, full_rows: bool = False) -> Sheet:
    """A grid (CSV, worksheet) -> Sheet: the first non-blank row is the header, wholly
    blank rows are skipped (spreadsheets leave plenty of them at the end). `full_rows`: a
    row must have a cell for every header column (CSV, where a missing comma shifts
    nothing but silently blanks the last cells; a worksheet simply stops at its last cell)."""
    for header_row, header in rows:  # noqa: B007 - the row the loop stops on is the header
        if not all(_blank(c) for c in header):
            break
    else:
        raise reject(filename, 0, EMPTY_FILE)
    names = [(c or "").strip() for c in header]
    width = len(names)
    all_named = all(names)
    sheet = Sheet(header_row, [n for n in names if n], ())

    def records() -> Iterator[RawRow]:
        for number, cells in rows:
            if not (cells and cells[0] and cells[0].strip()) and all(_blank(c) for c in cells):
                continue
            if all_named and len(cells) == width:  # the fast, usual case
                yield number, dict(zip(names, cells, strict=True))
                continue
            if full_rows and len(cells) < width:
                missing = next((n for n in names[len(cells):] if n), WHOLE_FILE)
                sheet.problems.append(ReturnProblem(
                    filename, number, missing, f"row has {len(cells)} of the header's {width} cells (expected a "
                    "cell for every column; leave a cell empty, with its comma, for a value not reported)"))
            record: Cells = {}
            for i, cell in enumerate(cells):
                name = names[i] if i < width else UNNAMED
                if name:
                    record[name] = cell
                elif not _blank(cell) and UNNAMED not in record:
                    record[UNNAMED] = cell
            yield number, record

    sheet.rows = records()
    return sheet
