"""XLSX: the first worksheet, cached values rather than formulas (data_only)."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any

import openpyxl

from returns.errors import ReturnRejected, reject
from returns.readers.base import Reader, Sheet, tabular

NOT_A_WORKBOOK = "not a valid .xlsx workbook (expected an Excel workbook saved as .xlsx)"


def cell_text(cell: Any) -> str | None:
    """A typed cell value -> the text a person would have typed."""
    value = cell.value
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, dt.date):  # datetime too: a period typed as Mar-24 is stored as a date
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float | int):
        if "%" in (cell.number_format or ""):  # 85% is stored as 0.85
            return f"{value * 100:.12g}%"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


class XlsxReader(Reader):
    extensions = (".xlsx",)

    def read(self, filename: str, data: bytes) -> Sheet:
        # openpyxl raises many types for a damaged or foreign file (zip, XML, key errors):
        # any of them means the same thing to the person uploading it.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "data validation extension not supported"
                book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        try:
            if not book.worksheets:
                raise reject(filename, 0, "workbook has no worksheets (expected the return on the first sheet)")
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # some producers write a wrong <dimension>; read what is there
            grid = [(n, [cell_text(c) for c in row]) for n, row in enumerate(sheet.iter_rows(min_row=1), start=1)]
        except ReturnRejected:
            raise
        except Exception:
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        finally:
            book.close()
        return tabular(filename, iter(grid))
