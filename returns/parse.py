"""parse_return: bytes of one uploaded return -> ParsedReturn, or ReturnRejected with
every problem found. Pure apart from reading the bytes it is given."""

from __future__ import annotations

import datetime as dt
import hashlib

from returns.errors import ReturnRejected, condense, reject
from returns.kinds import CHECKERS, Header, match_header
from returns.lookup import MeasureLookup
from returns.model import Observation, ParsedReturn
from returns.readers import READERS, reader_for
from returns.readers.base import NO_DATA_ROWS, Caps, Sheet
from returns.values import shown


def _expected_types() -> str:
    exts = sorted(READERS, key=[".csv", ".xlsx", ".json"].index)
    return f"{', '.join(exts[:-1])} or {exts[-1]}"


def extension(filename: str) -> str:
    """'uploads/Sandwell.CSV' -> '.CSV' (as written; readers match it case-insensitively); '' when none."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[1] if "." in base else ""


def too_many_rows(limit: int) -> str:
    return (f"too many rows: more than {limit:,} data rows (expected at most {limit:,}, the KPI_ALERTS_MAX_ROWS limit; "
            "split the return by period)")


def parse_return(filename: str, data: bytes, catalog: MeasureLookup, *, now: dt.date | None = None,
                 max_rows: int | None = None, caps: Caps | None = None) -> ParsedReturn:
    """`catalog` is normally rules.catalog.Catalog; anything with its resolve() will do.

    `now` is when the return lands (the caller's clock: a datetime or date): a period after
    its month is rejected. None checks no such limit (e.g. a file checked on its own).
    `max_rows`: more data rows than this rejects the return as soon as they are counted.
    `caps`: what reading may cost (an XLSX is checked against them before it is opened);
    None: the defaults, with `max_rows` as their row cap."""
    ext = extension(filename)
    reader = reader_for(ext)
    if reader is None:
        found = f"unsupported file type {shown(ext)}" if ext else "unsupported file type: the name has no extension"
        raise reject(filename, 0, f"{found} (expected {_expected_types()})")
    if caps is None:
        caps = Caps(rows=max_rows) if max_rows is not None else Caps()
    sheet = reader.read(filename, data, caps)
    header = match_header(filename, sheet.header_row, sheet.columns)
    try:
        return _checked(filename, data, sheet, header, catalog, now, max_rows)
    except ReturnRejected as exc:
        exc.kind = header.kind  # the kind the header named: counted by kind (the API's metrics)
        raise


def _checked(filename: str, data: bytes, sheet: Sheet, header: Header, catalog: MeasureLookup,
             now: dt.date | None, max_rows: int | None) -> ParsedReturn:
    latest = f"{now.year:04d}-{now.month:02d}" if now is not None else None
    checker = CHECKERS[header.kind](filename, header, catalog, latest)
    observations: list[Observation] = []
    for row, cells in sheet.rows:
        if max_rows is not None and checker.rows >= max_rows:
            raise reject(filename, row, too_many_rows(max_rows))
        observation = checker.check(row, cells)
        if observation is not None:
            observations.append(observation)
    if checker.rows == 0:
        raise reject(filename, 0, NO_DATA_ROWS)
    checker.finish()
    problems = sorted(sheet.problems + checker.problems, key=lambda p: p.row) if sheet.problems else checker.problems
    if problems:
        raise ReturnRejected(condense(problems))
    assert checker.provider is not None  # every row had a valid provider, and there is a row
    return ParsedReturn(
        filename=filename,
        kind=header.kind,
        provider=checker.provider,
        periods=tuple(sorted({o.period for o in observations})),
        observations=tuple(observations),
        sha256=hashlib.sha256(data).hexdigest(),
        columns=dict(header.names),
    )
