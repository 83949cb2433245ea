"""File-format readers, one module per format behind `Reader`, chosen by extension."""

from __future__ import annotations

from returns.readers.base import Reader, Sheet
from returns.readers.csv_reader import CsvReader
from returns.readers.json_reader import JsonReader
from returns.readers.xlsx_reader import XlsxReader

READERS: dict[str, Reader] = {
    ext: reader for reader in (CsvReader(), XlsxReader(), JsonReader()) for ext in reader.extensions
}


def reader_for(extension: str) -> Reader | None:
    """'.CSV' -> the CSV reader; None when the format is not supported."""
    return READERS.get(extension.lower())


__all__ = ["READERS", "CsvReader", "JsonReader", "Reader", "Sheet", "XlsxReader", "reader_for"]
