"""Column types: instants are timezone-aware UTC in Python, whatever the backend keeps.

SQLite has no time zones and hands datetimes back naive; PostgreSQL keeps `timestamptz`.
Every instant column uses `UTCDateTime`, so code never has to guess (the pattern of
SQLAlchemy's own "TZDateTime" recipe). Lists and dicts are SQLAlchemy `JSON` columns;
`RepeatedJSON` is `JSON` for the one hot column whose values repeat row after row.

Both bind on the hot paths (executemany of thousands of ratings, the digest's read of every
rating), so their processors do the least per row: see bench/ and tests/store/test_types.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import JSON, DateTime, TypeDecorator


def _naive(value: dt.datetime) -> ValueError:
    return ValueError(f"naive datetime {value.isoformat()}: instants must be timezone-aware")


class UTCDateTime(TypeDecorator[dt.datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise _naive(value)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """`process_bind_param` fused with the dialect's own processor, converting only what
        is not already UTC (SQLite's formats the wall time and ignores tzinfo; PostgreSQL's
        driver sends the offset): a third of the cost per row of the two-step default."""
        impl = self.impl_instance.bind_processor(dialect)
        utc = dt.UTC

        def process(value: dt.datetime | None) -> Any:
            if value is None:
                return None
            offset = value.utcoffset()
            if offset is None:
                raise _naive(value)
            if offset:
                value = value.astimezone(utc)
            return impl(value) if impl is not None else value

        return process

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class RepeatedJSON(TypeDecorator[dict]):
    """`JSON` for flat dicts of str/float that repeat row after row (a rule version's bands on
    each of its ratings): each distinct value is serialized once and each distinct text parsed
    once per process, keyed by content (so changing a dict in place is still safe), and every
    row reads back its own copy. Stored as JSON does it: existing rows read the same."""

    impl = JSON
    cache_ok = True
    _MAX = 4096  # distinct values kept (caseload ceilings add a few per service)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        dumps = self.impl_instance.bind_processor(dialect)
        if dumps is None:
            return None
        seen: dict[tuple, Any] = {}

        def process(value: Any) -> Any:
            if not isinstance(value, dict):
                return dumps(value)
            try:
                key = tuple(value.items())
                return seen[key]
            except KeyError:
                if len(seen) >= self._MAX:
                    seen.clear()
                seen[key] = text = dumps(value)
                return text
            except TypeError:  # an unhashable value: not the flat dict this type is for
                return dumps(value)

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        loads = self.impl_instance.result_processor(dialect, coltype)
        if loads is None:
            return None
        parsed = lru_cache(maxsize=self._MAX)(loads)

        def process(value: Any) -> Any:
            if value is None or not isinstance(value, str | bytes):
                return loads(value)
            out = parsed(value)
            return dict(out) if isinstance(out, dict) else out

        return process
