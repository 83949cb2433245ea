"""Pure parsers for one cell's text. Each raises CellError whose message says what was
expected and what was found, ready to be placed against the cell."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache

MIN_YEAR, MAX_YEAR = 1990, 2099  # outside this a 4-digit year is a typo, not a period

PERIOD_EXPECTED = "expected a period as YYYY-MM, Mon-YY or Month YYYY (e.g. 2024-05, May-24 or May 2024)"
MONEY_EXPECTED = "expected an amount in pounds (e.g. 96720000, 96,720,000, £96.72m, £500k or (1,000))"
BOOL_EXPECTED = "expected true or false (or yes/no, y/n, 1/0)"


class CellError(ValueError):
    """A cell that does not parse; str() is the complete 'expected ..., got ...' message."""


SHOWN_MAX = 80  # a message quotes at most this much of a cell


def shown(text: str) -> str:
    """A cell quoted for a message, cut short if long (a stray 100 KB cell must not flood the report)."""
    return repr(text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "...")


def got(text: str) -> str:
    return shown(text) if text else "a blank cell"


MONTHS: dict[str, int] = {}
for _number, _name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"),
    start=1,
):
    MONTHS[_name] = MONTHS[_name[:3]] = _number
MONTHS["sept"] = 9

# re.ASCII throughout: in a str pattern \d also matches Arabic-Indic, full-width and other
# digits, which int() and Decimal() then read silently.
_ISO_PERIOD = re.compile(r"(\d{4})-(\d{1,2})", re.ASCII)
_NAMED_PERIOD = re.compile(r"([A-Za-z]+)[-\s]*(\d{2}|\d{4})", re.ASCII)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_MONEY = re.compile(
    r"(?P<open>\()?\s*(?P<sign>[+-])?\s*£?\s*(?P<sign2>[+-])?\s*"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
    r"\s*(?P<unit>bn|m|k)?\s*(?P<close>\))?",
    re.IGNORECASE | re.ASCII,
)
_MULTIPLIERS = {None: Decimal(1), "k": Decimal(1_000), "m": Decimal(1_000_000), "bn": Decimal(1_000_000_000)}
_BOOLS = {"true": True, "yes": True, "y": True, "1": True, "false": False, "no": False, "n": False, "0": False}


@lru_cache(maxsize=4096)  # a return repeats a handful of periods on every row
def parse_period(text: str) -> str:
    """'2024-03', 'Mar-24', 'Mar-2024', 'March 2024', 'Mar 24' -> '2024-03'."""
    s = text.strip()
    m = _ISO_PERIOD.fullmatch(s)
    if m:
        year, month = int(m[1]), int(m[2])
    else:
        m = _NAMED_PERIOD.fullmatch(s)
        month = MONTHS.get(m[1].lower(), 0) if m else 0
        year = int(m[2]) if m else 0
        if m and len(m[2]) == 2:
            year += 2000  # the trust's tables write Mar-24 for March 2024
    if not (1 <= month <= 12 and MIN_YEAR <= year <= MAX_YEAR):
        raise CellError(f"{PERIOD_EXPECTED}, got {got(s)}")
    return f"{year:04d}-{month:02d}"


def _ascii_digits(text: str) -> None:
    """A digit other than 0-9 (e.g. Arabic-Indic or full-width) is named, not misread."""
    for position, char in enumerate(text, start=1):
        if char.isdigit() and not char.isascii():
            raise CellError(f"expected digits 0-9, got {got(text)} (character {position} is the non-ASCII digit "
                            f"U+{ord(char):04X})")


def _finite(value: float, text: str) -> float:
    if math.isfinite(value):
        return value
    raise CellError(f"expected a finite number, got {got(text)}")


def parse_number(text: str, *, percent: bool = False) -> float:
    """'1234', '1,234.5', '-3', '85%' (only when percent) -> float. NaN and infinities
    (including overflow such as 1e400) are rejected: they would poison every comparison."""
    s = text.strip()
    body = s[:-1].rstrip() if percent and s.endswith("%") else s
    # float() alone is the fast path, but it also takes '1_000' and non-ASCII digits
    if body.isascii() and "_" not in body:
        try:
            value = float(body)
        except ValueError:
            if not _GROUPED.fullmatch(body):
                raise CellError(f"expected a number, got {got(s)}") from None
            value = float(body.replace(",", ""))
        return _finite(value, s)
    _ascii_digits(s)
    raise CellError(f"expected a number, got {got(s)}")


def parse_money(text: str) -> float:
    """GBP as people write it: '£96.72m', '96,720,000', '£500k', '£1.2bn', '-1,000',
    '(1,000)' (accounting negative) -> pounds as float."""
    s = text.strip()
    if not s.isascii():
        _ascii_digits(s)
    m = _MONEY.fullmatch(s)
    if m is None or bool(m["open"]) != bool(m["close"]) or sum(bool(x) for x in (m["open"], m["sign"], m["sign2"])) > 1:
        try:
            return parse_number(s)  # e.g. 9.672e7 from a spreadsheet; nan/inf get their own message
        except CellError as e:
            if "finite" in str(e):
                raise
        raise CellError(f"{MONEY_EXPECTED}, got {got(s)}") from None
    # Decimal so that £96.72m is exactly 96,720,000 rather than 96719999.99999999
    amount = Decimal(m["num"].replace(",", "")) * _MULTIPLIERS[(m["unit"] or "").lower() or None]
    if m["open"] or "-" in (m["sign"] or "", m["sign2"] or ""):
        amount = -amount
    return _finite(float(amount), s)


def parse_bool(text: str) -> bool:
    s = text.strip()
    try:
        return _BOOLS[s.lower()]
    except KeyError:
        raise CellError(f"{BOOL_EXPECTED}, got {got(s)}") from None
