"""CSV as Excel saves it: UTF-8 with or without BOM, CRLF or LF, quoted fields."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from returns.errors import reject
from returns.readers.base import EMPTY_FILE, Caps, Reader, Sheet, decode_utf8, tabular


class CsvReader(Reader):
    extensions = (".csv",)

    def read(self, filename: str, data: bytes, caps: Caps | None = None) -> Sheet:
        text = decode_utf8(filename, data, "save the file as CSV UTF-8")
        if not text.strip():
            raise reject(filename, 0, EMPTY_FILE)
        reader = csv.reader(io.StringIO(text, newline=""))

        def grid() -> Iterator[tuple[int, list[str]]]:
            # Streamed, so a row limit stops reading early; a malformed line rejects the file
            # where it is. Rows are numbered by record, as Excel shows them.
            try:
                yield from enumerate(reader, start=1)
            except csv.Error as e:
                message = f"unreadable CSV: {e} (expected comma-separated text)"
                raise reject(filename, reader.line_num, message) from None

        return tabular(filename, grid(), full_rows=True)
