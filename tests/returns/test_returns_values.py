"""The pure cell parsers in returns.values."""

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from returns.values import MONTHS, PERIOD_EXPECTED, CellError, parse_bool, parse_money, parse_number, parse_period

PROPERTY = settings(database=None, deadline=None, max_examples=200)
MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
               "november", "december"]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("2024-03", "2024-03"),
        (" 2024-3 ", "2024-03"),
        ("Mar-24", "2024-03"),
        ("mar-24", "2024-03"),
        ("Mar-2024", "2024-03"),
        ("March 2024", "2024-03"),
        ("Mar 24", "2024-03"),
        ("Sept-23", "2023-09"),
        ("DEC-99", "2099-12"),
    ],
)
def test_parse_period_accepts_the_trust_styles(text, period):
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "24-03", "Mar", "Foo-24", "2024/03", "1850-01", "Mar-124", ""])
def test_parse_period_rejects_with_expected_and_found(text):
    with pytest.raises(CellError) as e:
        parse_period(text)
    found = repr(text.strip()) if text.strip() else "a blank cell"
    assert str(e.value) == f"{PERIOD_EXPECTED}, got {found}"


@PROPERTY
@given(st.integers(1990, 2099), st.integers(1, 12))
def test_parse_period_round_trips_iso(year, month):
    assert parse_period(f"{year:04d}-{month:02d}") == f"{year:04d}-{month:02d}"


@PROPERTY
@given(st.integers(2000, 2099), st.integers(1, 12), st.sampled_from(["-", " "]), st.booleans(), st.booleans(),
       st.booleans())
def test_parse_period_round_trips_month_name(year, month, sep, full_name, four_digit_year, upper):
    name = MONTH_NAMES[month - 1] if full_name else MONTH_NAMES[month - 1][:3].title()
    name = name.upper() if upper else name
    text = f"{name}{sep}{year if four_digit_year else year % 100:02d}"
    assert parse_period(text) == f"{year:04d}-{month:02d}"


def test_month_table_is_complete():
    assert sorted(set(MONTHS.values())) == list(range(1, 13))


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), (" 1,234.5 ", 1234.5), ("-3", -3.0), ("0.25", 0.25), ("1e3", 1000.0), ("12,345,678", 12345678.0)],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_parse_number_percent_sign_only_for_percentages():
    assert parse_number("85%", percent=True) == 85.0
    assert parse_number("85 %", percent=True) == 85.0
    with pytest.raises(CellError, match=r"^expected a number, got '85%'$"):
        parse_number("85%")


@pytest.mark.parametrize("text", ["abc", "1_000", "12abc", "1,23", "--1", "1.2.3"])
def test_parse_number_rejects_non_numbers(text):
    with pytest.raises(CellError) as e:
        parse_number(text)
    assert str(e.value) == f"expected a number, got {text!r}"


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400"])
def test_parse_number_rejects_non_finite(text):
    with pytest.raises(CellError) as e:
        parse_number(text)
    assert str(e.value) == f"expected a finite number, got {text!r}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("£96.72m", 96_720_000),
        ("96,720,000", 96_720_000),
        ("96720000", 96_720_000),
        ("£96,720,000", 96_720_000),
        ("£500k", 500_000),
        ("£500K", 500_000),
        ("£1.2bn", 1_200_000_000),
        ("£1.2BN", 1_200_000_000),
        ("96.72M", 96_720_000),
        ("-1,000", -1_000),
        ("(1,000)", -1_000),
        ("(£1.5m)", -1_500_000),
        ("-£250", -250),
        ("£-250", -250),
        ("£ 12.50", 12.5),
        ("0", 0),
        ("9.672e7", 96_720_000),
    ],
)
def test_parse_money(text, value):
    assert parse_money(text) == value


@pytest.mark.parametrize("text", ["abc", "£", "£1,00", "(1,000", "1,000)", "-(1,000)", "£12x", "1m2", "$100"])
def test_parse_money_rejects(text):
    with pytest.raises(CellError) as e:
        parse_money(text)
    assert str(e.value) == (
        f"expected an amount in pounds (e.g. 96720000, 96,720,000, £96.72m, £500k or (1,000)), got {text!r}"
    )


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e400"])
def test_parse_money_rejects_non_finite(text):
    with pytest.raises(CellError) as e:
        parse_money(text)
    assert str(e.value) == f"expected a finite number, got {text!r}"


def _grouped(n: int) -> str:
    return f"{n:,}"


@PROPERTY
@given(
    st.integers(0, 10**12),
    st.integers(0, 99),
    st.sampled_from(["", "k", "m", "bn", "K", "M", "BN"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "-", "()"]),
)
def test_parse_money_of_formatted_numbers(whole, pence, unit, pound, commas, negative):
    number = f"{_grouped(whole) if commas else whole}.{pence:02d}"
    text = f"{'£' if pound else ''}{number}{unit}"
    if negative == "-":
        text = "-" + text
    elif negative == "()":
        text = f"({text})"
    expected = (whole + pence / 100) * {"": 1, "k": 1e3, "m": 1e6, "bn": 1e9}[unit.lower()]
    expected = -expected if negative else expected
    assert math.isclose(parse_money(text), expected, rel_tol=1e-12, abs_tol=1e-9)


@PROPERTY
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_of_repr_is_exact(value):
    assert parse_number(repr(value)) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("Yes", True), ("y", True), ("1", True),
     ("false", False), ("False", False), ("no", False), ("N", False), ("0", False), (" yes ", True)],
)
def test_parse_bool(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "t", ""])
def test_parse_bool_rejects(text):
    with pytest.raises(CellError) as e:
        parse_bool(text)
    found = repr(text) if text else "a blank cell"
    assert str(e.value) == f"expected true or false (or yes/no, y/n, 1/0), got {found}"


@PROPERTY
@given(st.text())
def test_cell_parsers_raise_only_cell_errors(text):
    for parse in (parse_period, parse_number, parse_money, parse_bool):
        with contextlib.suppress(CellError):
            parse(text)


# Arabic-Indic, extended Arabic-Indic, full-width and Devanagari digits: float(), int() and
# Decimal() all read them, and a str regex's \d matches them, so money was misread silently.
@pytest.mark.parametrize(("text", "position", "code"), [
    ("٣", 1, "0663"), ("£٩٦m", 2, "0669"), ("１２３", 1, "FF11"), ("£1,२००", 4, "0968"), ("۱۲", 1, "06F1"),
])
@pytest.mark.parametrize("parser", [parse_number, parse_money])
def test_non_ascii_digits_are_named_not_misread(parser, text, position, code):
    with pytest.raises(CellError) as e:
        parser(text)
    assert str(e.value) == f"expected digits 0-9, got {text!r} (character {position} is the non-ASCII digit U+{code})"


@pytest.mark.parametrize("text", ["٢٠٢٤-٠٥", "May-٢٤", "２０２４-05"])
def test_period_with_non_ascii_digits_is_refused(text):
    with pytest.raises(CellError, match="^expected a period as YYYY-MM, Mon-YY or Month YYYY"):
        parse_period(text)
