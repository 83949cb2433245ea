"""Which uploads are returns at all: CSV, XLSX or JSON, by the name's extension and a look at
the first bytes (pure). Anything else is refused with 415 before it is parsed; a file of the
right type with bad content is the parser's to reject, line by line (422)."""

from __future__ import annotations

ACCEPTED = "CSV (.csv, UTF-8), XLSX (.xlsx, an Excel workbook) or JSON (.json)"

_ZIP = b"PK\x03\x04"
# What a file named .csv or .json is when it is not text: said by name, so a person knows what they sent.
_BINARY = ((_ZIP, "a ZIP archive (an XLSX workbook?)"), (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
           (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"\x89PNG", "a PNG image"),
           (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (b"Rar!", "a RAR archive"),
           (b"7z\xbc\xaf", "a 7-Zip archive"))
_BOM = b"\xef\xbb\xbf"


def clean_filename(name: str | None) -> str:
    """The name as FILE in `FILE:ROW:COLUMN` lines and in `returns.filename`: the last path
    part only (browsers on Windows send C:\\...), no control characters, at most 200 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c if c.isprintable() else "_" for c in base).strip()
    return base[-200:] or "upload"


def extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def unsupported(name: str, data: bytes) -> str | None:
    """Why this is none of the accepted types (the 415 message), None when it may be one."""
    ext = extension(name)
    if ext not in ("csv", "xlsx", "json"):
        found = f"'.{ext}'" if ext else "no extension"
        return f"unsupported file type {found} for {name!r}: expected {ACCEPTED}"
    head = data[:8]
    if ext == "xlsx":
        if data and not head.startswith(_ZIP):
            return f"{name!r} is not an XLSX workbook (it is not a ZIP file): expected {ACCEPTED}"
        return None
    for signature, what in _BINARY:
        if head.startswith(signature):
            return f"{name!r} is {what}, not {ext.upper()}: expected {ACCEPTED}"
    if ext == "json":
        text = data[len(_BOM):] if data.startswith(_BOM) else data
        first = text.lstrip()[:1]
        if first and first not in (b"[", b"{"):
            return f"{name!r} is not JSON (expected an array of objects or {{\"rows\": [...]}}): expected {ACCEPTED}"
    return None
