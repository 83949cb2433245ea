"""JSON: a top-level array of row objects, or an object whose "rows" holds that array.
Values may be numbers, strings or null (null = not reported)."""

from __future__ import annotations

import json
from typing import Any

from returns.errors import WHOLE_FILE, ReturnProblem, ReturnRejected, reject
from returns.readers.base import EMPTY_FILE, UNNAMED, Cells, Reader, Sheet, decode_utf8

EXPECTED = 'expected a JSON array of row objects, or an object with a "rows" array'


class _Number(str):
    """A JSON number kept as its literal text, so 1e400 is reported as written, big
    integers are not converted, and a number is still told apart from a string."""


def _describe(value: Any) -> str:
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    return 'an object without "rows"' if isinstance(value, dict) else type(value).__name__


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "[...]" if isinstance(value, list) else "{...}"


class JsonReader(Reader):
    extensions = (".json",)

    def read(self, filename: str, data: bytes) -> Sheet:
        text = decode_utf8(filename, data, "save the file as UTF-8")
        if not text.strip():
            raise reject(filename, 0, EMPTY_FILE)
        try:
            doc = json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number)
        except json.JSONDecodeError as e:
            message = f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno} ({EXPECTED})"
            raise reject(filename, e.lineno, message) from None
        except RecursionError:
            raise reject(filename, 0, f"invalid JSON: nested too deeply ({EXPECTED})") from None
        rows = doc.get("rows") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise reject(filename, 0, f"{EXPECTED}, got {_describe(doc)}")
        problems = [
            ReturnProblem(filename, i, WHOLE_FILE, f"expected a row object, got {_describe(item)}")
            for i, item in enumerate(rows, start=1)
            if not isinstance(item, dict)
        ]
        if problems:
            raise ReturnRejected(problems)
        records: list[tuple[int, Cells]] = [
            (i, {key.strip(): _text(value) for key, value in item.items()}) for i, item in enumerate(rows, start=1)
        ]
        # Objects need not all carry the same keys: the columns are every key seen, in order.
        columns = list(dict.fromkeys(key for _, record in records for key in record if key != UNNAMED))
        return Sheet(0, columns, records)
