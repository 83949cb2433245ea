"""Hostile workbooks, written with zipfile directly: small files that cost a gigabyte or
minutes to open naively. Used by the tests and bench/hostile_inputs.py."""

from __future__ import annotations

import io
import zipfile

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _base() -> dict[str, bytes]:
    book = openpyxl.Workbook()
    book.active.append(["provider", "period", "indicator", "value"])
    book.active.append(["sandwell", "2024-05", "PI1", 50])
    saved = io.BytesIO()
    book.save(saved)
    with zipfile.ZipFile(saved) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(members: dict[str, bytes | tuple[bytes, bytes, int, bytes]]) -> bytes:
    """A member may be (head, repeated, times, tail): written as it streams, never held whole."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members.items():
            if isinstance(data, bytes):
                z.writestr(name, data)
                continue
            head, repeated, times, tail = data
            with z.open(name, "w", force_zip64=True) as f:
                f.write(head)
                chunk = repeated * 10_000
                for _ in range(times // 10_000):
                    f.write(chunk)
                f.write(repeated * (times % 10_000))
                f.write(tail)
    return out.getvalue()


def _with_shared_strings(members: dict[str, bytes]) -> dict[str, bytes]:
    """Declare the shared strings part where openpyxl looks for it (content types)."""
    types = members["[Content_Types].xml"]
    if b"sharedStrings" not in types:
        override = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.sharedStrings+xml"/>')
        members["[Content_Types].xml"] = types.replace(b"</Types>", override + b"</Types>")
    return members


def shared_strings(n: int = 15_000_000, *, declared: bool = True) -> bytes:
    """A workbook whose sharedStrings.xml holds `n` strings (none used; 15 million: 300 KB):
    openpyxl reads them all into memory when it opens the workbook, read-only or not."""
    members: dict = _with_shared_strings(_base())
    counts = f' count="{n}" uniqueCount="{n}"' if declared else ""
    head = f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}{counts}>'.encode()
    members["xl/sharedStrings.xml"] = (head, b"<si><t>ab</t></si>", n, b"</sst>")
    return _zip(members)


def wide_sheet(rows: int = 16_000, columns: int = 1_000, *, dimension: bool = True) -> bytes:
    """A first sheet of `rows` x `columns` numeric cells (16,000 x 1,000: 1.8 MB, minutes to read)."""
    from openpyxl.utils import get_column_letter

    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}>'
    if dimension:
        head += f'<dimension ref="A1:{get_column_letter(columns)}{rows}"/>'
    row = "<row>" + "<c><v>1</v></c>" * columns + "</row>"  # cells and rows numbered by position
    members: dict = _base()
    members[SHEET] = ((head + "<sheetData>").encode(), row.encode(), rows, b"</sheetData></worksheet>")
    return _zip(members)


def ordinary() -> bytes:
    """A one-row KPI workbook as openpyxl saves it."""
    return _zip(_base())


def distinct_shared_strings(n: int) -> bytes:
    """`n` different shared strings and no counts declared: packed about 5 to 1, so no ratio gives them away."""
    members: dict = _with_shared_strings(_base())
    body = "".join(f"<si><t>{i:x}</t></si>" for i in range(n))
    members["xl/sharedStrings.xml"] = f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}>{body}</sst>'.encode()
    return _zip(members)


def zeros(megabytes: int = 64) -> bytes:
    """A workbook with an extra part of `megabytes` of zeros: a classic zip bomb's ratio."""
    members = _base()
    members["xl/media/padding.bin"] = bytes(megabytes * 1024 * 1024)
    return _zip(members)


def long_sheet(rows: int = 300_000) -> bytes:
    """A KPI header then `rows` blank rows (never counted as data rows) and no <dimension>:
    stopped at the row cap as it streams."""
    header = "".join(f'<c t="inlineStr"><is><t>{t}</t></is></c>' for t in ("provider", "period", "indicator", "value"))
    body = f"<row>{header}</row>" + "".join(f'<row r="{r}"/>' for r in range(2, rows + 2))
    xml = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>{body}</sheetData></worksheet>'
    members = _base()
    members[SHEET] = xml.encode()
    return _zip(members)
