"""XLSX: the first worksheet, cached values rather than formulas, streamed.

openpyxl's read-only mode parses the sheet's XML as it goes, but its rows are padded to the
widest cell and the old reader kept the whole grid: one stray cell in column XFD on every
row made a 56 KB workbook take 436 MB. Here the sheet is read row by row from openpyxl's
own sheet parser, keeping only the cells present, so memory stays flat whatever the workbook's shape. Before
that, returns.readers.xlsx_guard refuses a workbook that would cost more than its Caps to open,
and reading stops at the first cell beyond the column cap or row beyond the row cap.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import openpyxl
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

from returns.errors import WHOLE_FILE, ReturnProblem, ReturnRejected, reject
from returns.readers.base import Caps, Reader, Sheet, tabular
from returns.readers.xlsx_guard import check_archive, columns_message, rows_allowed

NOT_A_WORKBOOK = "not a valid .xlsx workbook (expected an Excel workbook saved as .xlsx)"
NO_CACHED_VALUE = "no-cached-value"


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


class _CachedValues(WorkSheetParser):
    """openpyxl's parser reading cached values (data_only), which also marks a formula cell
    whose file holds no cached value: it would otherwise read as a blank, i.e. not reported."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
            cell[NO_CACHED_VALUE] = True
        return cell


class XlsxReader(Reader):
    extensions = (".xlsx",)

    def read(self, filename: str, data: bytes, caps: Caps | None = None) -> Sheet:
        caps = caps or Caps()
        # openpyxl raises many types for a damaged or foreign file (zip, XML, key errors):
        # any of them means the same thing to the person uploading it.
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                check_archive(filename, archive, caps)  # before openpyxl loads the shared strings
        except ReturnRejected:
            raise
        except Exception:
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "data validation extension not supported"
                book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        try:
            if not book.worksheets:
                raise reject(filename, 0, "workbook has no worksheets (expected the return on the first sheet)")
            problems: list[ReturnProblem] = []
            sheet = tabular(filename, self._rows(filename, book, book.worksheets[0], problems, caps))
            sheet.problems = problems
        except ReturnRejected:
            book.close()
            raise
        except Exception:
            book.close()
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        return sheet

    def _rows(self, filename: str, book: Any, ws: Any, problems: list[ReturnProblem],
              caps: Caps) -> Iterator[tuple[int, list[str | None]]]:
        """(row number, cell texts up to the last cell present), read as the XML streams by;
        the workbook is closed when the rows end (or the reader stops early). A cell beyond the
        column cap, or a row beyond the row cap, refuses the file there: the <dimension> checked
        before is optional and may lie, and each further cell costs time."""
        last_row = rows_allowed(caps.rows)
        header: list[str | None] | None = None  # the first row with a value, as tabular() takes it
        try:
            with ws._get_source() as src, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parser = _CachedValues(src, ws._shared_strings, data_only=True, epoch=book.epoch,
                                       date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
                for number, cells in parser.parse():
                    if number > last_row:
                        raise reject(filename, number, f"the sheet goes on past row {last_row:,} (expected at most "
                                     f"{caps.rows:,} data rows, the KPI_ALERTS_MAX_ROWS limit; split the return by "
                                     "period)")
                    texts: list[str | None] = []
                    for cell in cells:
                        column = cell["column"]
                        if column > caps.columns:
                            ref = f"{get_column_letter(column)}{number}"
                            raise reject(filename, number, columns_message(f"a cell in {ref}", caps.columns))
                        if len(texts) < column:
                            texts.extend([None] * (column - len(texts)))
                        texts[column - 1] = self._text(ws, cell)
                        if cell.get(NO_CACHED_VALUE):
                            name = (header[column - 1] or "").strip() if header and column <= len(header) else ""
                            problems.append(ReturnProblem(
                                filename, number, name or WHOLE_FILE,
                                f"formula in cell {get_column_letter(column)}{number} has no saved value (expected "
                                "values: save the workbook in Excel so the results are stored, or paste values)"))
                    if header is None and any(t is not None and t.strip() for t in texts):
                        header = texts
                    yield number, texts
        except ReturnRejected:
            raise
        except Exception:
            raise reject(filename, 0, NOT_A_WORKBOOK) from None
        finally:
            book.close()

    @staticmethod
    def _text(ws: Any, cell: dict[str, Any]) -> str | None:
        if cell["value"] is None:
            return None
        return cell_text(ReadOnlyCell(ws, cell["row"], cell["column"], cell["value"], cell["data_type"],
                                      cell["style_id"]))
