"""CSV as Excel saves it: UTF-8 with or without BOM, CRLF or LF, quoted fields."""

from __future__ import annotations

import csv
import io

from returns.errors import reject
from returns.readers.base import EMPTY_FILE, Reader, Sheet, decode_utf8, tabular


class CsvReader(Reader):
    extensions = (".csv",)

    def read(self, filename: str, data: bytes) -> Sheet:
        text = decode_utf8(filename, data, "save the file as CSV UTF-8")
        if not text.strip():
            raise reject(filename, 0, EMPTY_FILE)
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            # Read it all now so a malformed line is a file problem, not an error mid-validation.
            # Rows are numbered by record, as Excel shows them.
            grid = list(enumerate(reader, start=1))
        except csv.Error as e:
            raise reject(filename, reader.line_num, f"unreadable CSV: {e} (expected comma-separated text)") from None
        return tabular(filename, iter(grid))
