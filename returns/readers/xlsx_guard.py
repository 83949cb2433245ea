"""An XLSX looked at as the zip it is, before openpyxl opens it: a 300 KB workbook can
declare a gigabyte of shared strings (openpyxl loads them all, even in read-only mode) or a
16,000 x 1,000 sheet. Only zip headers and the first bytes of two members are read, so a
bomb is refused in milliseconds and a few MB, located like any other rejection.

zipfile never yields more than a member's declared uncompressed size (and then checks its
CRC), so the declared sizes are a bound that holds even when they lie.
"""

from __future__ import annotations

import re
import zipfile

from openpyxl.utils import column_index_from_string, get_column_letter

from returns.errors import reject
from returns.readers.base import Caps

SHARED_STRINGS = "xl/sharedStrings.xml"
HEAD_BYTES = 64 * 1024  # the <sst> and <dimension> elements sit in the first bytes of their members
MAX_RATIO = 100  # a member over 1 MB unpacking to more than 100 times its packed size is a bomb
RATIO_FLOOR = 1024 * 1024
# openpyxl keeps every shared string in memory: its XML is capped whatever the count says
SHARED_STRINGS_BYTES = 16 * 1024 * 1024
SPLIT = "split the return by period, or save it as CSV"

_SST_COUNT = re.compile(rb"<(?:\w+:)?sst\b[^>]*?\buniqueCount=\"(\d+)\"|<(?:\w+:)?sst\b[^>]*?\bcount=\"(\d+)\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"([A-Za-z]{1,3})(\d+)(?::([A-Za-z]{1,3})(\d+))?\"")


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


def _head(book: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with book.open(info) as member:
        return member.read(HEAD_BYTES)


def check_archive(filename: str, book: zipfile.ZipFile, caps: Caps) -> None:
    """Raises ReturnRejected (whole file) for a workbook that would cost more than its caps to open."""
    infos = book.infolist()
    unpacked = sum(i.file_size for i in infos)
    if unpacked > caps.unpacked_bytes:
        raise reject(filename, 0, f"workbook unpacks to {_mb(unpacked)} (expected at most "
                                  f"{_mb(caps.unpacked_bytes)}, 20 times the KPI_ALERTS_MAX_RETURN_MB limit; {SPLIT})")
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise reject(filename, 0, f"workbook part {info.filename} unpacks to {_mb(info.file_size)} from "
                                      f"{info.compress_size:,} bytes (expected an ordinary workbook, compressed at "
                                      f"most {MAX_RATIO} to 1; {SPLIT})")
    names = {i.filename: i for i in infos}
    strings = names.get(SHARED_STRINGS)
    if strings is not None:
        if strings.file_size > SHARED_STRINGS_BYTES:
            raise reject(filename, 0, f"workbook's shared strings take {_mb(strings.file_size)} (expected at most "
                                      f"{_mb(SHARED_STRINGS_BYTES)}; {SPLIT})")
        found = _SST_COUNT.search(_head(book, strings))
        count = int(found.group(1) or found.group(2)) if found else 0
        limit = caps.rows * caps.columns
        if count > limit:
            raise reject(filename, 0, f"workbook declares {count:,} shared strings (expected at most {limit:,}, "
                                      f"the KPI_ALERTS_MAX_ROWS limit times KPI_ALERTS_MAX_COLUMNS; {SPLIT})")
    for info in infos:  # every worksheet: which one is first is only known once openpyxl reads the workbook
        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
            check_dimension(filename, _head(book, info), caps)


def check_dimension(filename: str, head: bytes, caps: Caps) -> None:
    """A sheet's declared extent (<dimension ref="A1:ALL16000"/>) against the caps."""
    found = _DIMENSION.search(head)
    if not found:
        return  # optional: the streaming reader stops at the caps instead
    ref = [g.decode("ascii").upper() if g else "" for g in found.groups()]
    last_column, last_row = (ref[2], ref[3]) if ref[2] else (ref[0], ref[1])
    try:
        columns = column_index_from_string(last_column)
    except ValueError:
        return
    if columns > caps.columns:
        raise reject(filename, 0, columns_message(f"the sheet reaches column {last_column}", caps.columns))
    if int(last_row) > rows_allowed(caps.rows):
        raise reject(filename, 0, f"the sheet reaches row {int(last_row):,} (expected at most {caps.rows:,} data rows, "
                                  f"the KPI_ALERTS_MAX_ROWS limit; {SPLIT})")


def rows_allowed(max_rows: int) -> int:
    """Sheet rows tolerated for `max_rows` data rows: a header, and blank rows around them."""
    return max_rows + max(100, max_rows // 10)


def columns_message(found: str, limit: int) -> str:
    return (f"{found}, beyond column {get_column_letter(limit)} (expected at most {limit} columns, the "
            f"KPI_ALERTS_MAX_COLUMNS limit; delete the cells further right)")
