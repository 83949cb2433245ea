"""JSON: a top-level array of row objects, or an object whose "rows" holds that array.
Values may be numbers, strings or null (null = not reported)."""

from __future__ import annotations

import json
from typing import Any

from returns.errors import WHOLE_FILE, ReturnProblem, ReturnRejected, reject
from returns.readers.base import EMPTY_FILE, NO_DATA_ROWS, UNNAMED, Caps, Cells, Reader, Sheet, decode_utf8
from returns.values import shown

NO_ROWS = 'an object without "rows"'
EXPECTED = 'expected a JSON array of row objects, or an object with a "rows" array'


class _Object(dict):
    """A JSON object that keeps every (key, value) pair as written: json.loads keeps only
    the last of a key given twice, which would silently drop a value."""

    pairs: list[tuple[str, Any]]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.pairs = pairs
    return obj


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
    if isinstance(value, dict):  # {"rows": ...} holding the wrong thing says what it holds
        return f'an object whose "rows" is {_describe(value["rows"])}' if "rows" in value else NO_ROWS
    return type(value).__name__


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "[...]" if isinstance(value, list) else "{...}"


def _surrogate(text: str) -> str | None:
    """' (character 2 is the lone surrogate U+D800)' when `text` cannot be written as UTF-8:
    JSON's \\ud800 escape decodes to a string no file, database or terminal takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f" (character {e.start + 1} is the lone surrogate U+{ord(text[e.start]):04X})"
    return None


class JsonReader(Reader):
    extensions = (".json",)

    def read(self, filename: str, data: bytes, caps: Caps | None = None) -> Sheet:
        text = decode_utf8(filename, data, "save the file as UTF-8")
        if not text.strip():
            raise reject(filename, 0, EMPTY_FILE)
        try:
            doc = json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number,
                             object_pairs_hook=_object)
        except json.JSONDecodeError as e:
            message = f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno} ({EXPECTED})"
            raise reject(filename, e.lineno, message) from None
        except RecursionError:
            raise reject(filename, 0, f"invalid JSON: nested too deeply ({EXPECTED})") from None
        if isinstance(doc, _Object) and [k for k, _ in doc.pairs].count("rows") > 1:
            raise reject(filename, 0, f'key "rows" given twice ({EXPECTED}, once)')
        rows = doc.get("rows") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise reject(filename, 0, f"{EXPECTED}, got {_describe(doc)}")
        if not rows:
            raise reject(filename, 0, NO_DATA_ROWS)
        problems: list[ReturnProblem] = []
        # Objects need not all carry the same keys, nor spell them alike: the columns are every
        # key seen (matched like a header, ignoring case and spaces), named as first written.
        spelling: dict[str, str] = {}
        records: list[tuple[int, Cells]] = []
        for i, item in enumerate(rows, start=1):
            if not isinstance(item, dict):
                problems.append(ReturnProblem(filename, i, WHOLE_FILE, f"expected a row object, got {_describe(item)}"))
                continue
            record: Cells = {}
            given: set[str] = set()
            for key, value in item.pairs if isinstance(item, _Object) else item.items():
                bad = _surrogate(key)
                if bad is not None:
                    problems.append(ReturnProblem(filename, i, WHOLE_FILE, f"a key that is not text{bad} (expected "
                                                                           "a column name)"))
                    continue
                if isinstance(value, str) and not isinstance(value, _Number) and (bad := _surrogate(value)):
                    problems.append(ReturnProblem(filename, i, key.strip() or WHOLE_FILE, f"a value that is not "
                                                  f"text{bad} (expected a number or a string)"))
                    continue
                if key in given:
                    message = f"key {shown(key)} given twice in this row object (expected each key once)"
                    problems.append(ReturnProblem(filename, i, key.strip() or WHOLE_FILE, message))
                    continue
                given.add(key)
                name = key.strip()
                if not name:  # a value under no name is reported as a stray cell, like CSV's
                    text = _text(value)
                    if text and text.strip():
                        record.setdefault(UNNAMED, text)
                    continue
                column = spelling.setdefault(name.lower(), name)
                if column in record:
                    message = f"duplicate column {shown(name)} (expected each column once)"
                    problems.append(ReturnProblem(filename, i, name, message))
                record[column] = _text(value)
            records.append((i, record))
        if problems:
            raise ReturnRejected(problems)
        return Sheet(0, list(spelling.values()), records)
