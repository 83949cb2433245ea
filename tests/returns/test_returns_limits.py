"""Limits on a return: its size and rows (KPI_ALERTS_MAX_RETURN_MB, KPI_ALERTS_MAX_ROWS),
checked before it is parsed; at most 100 problems listed; an XLSX read in a memory budget."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from alerts.store.db import session_for
from alerts.usecases import ingest
from config import Settings
from returns import ReturnRejected, parse_return
from returns.errors import ReturnProblem, problem_lines
from rules.loader import load_catalog
from tests.conftest import NOW, ROOT, kpi_csv
from tests.ingesting import ingest_bytes
from tests.returns.catalogs import SMALL

KPI = "provider,period,indicator,value\n"


def rows(n: int) -> str:
    """n rows of one indicator, a month apart from April 2024."""
    return KPI + "".join(f"sandwell,{2024 + (i + 3) // 12}-{(i + 3) % 12 + 1:02d},PI1,50\n" for i in range(n))


# -- rows ---------------------------------------------------------------------------------------------------

def test_more_rows_than_the_limit_is_rejected_at_the_first_row_over():
    parse_return("r.csv", rows(5).encode(), SMALL, max_rows=5)
    with pytest.raises(ReturnRejected) as e:
        parse_return("r.csv", rows(6).encode(), SMALL, max_rows=5)
    assert [str(p) for p in e.value.problems] == [
        "r.csv:7:-: too many rows: more than 5 data rows (expected at most 5, the KPI_ALERTS_MAX_ROWS limit; split "
        "the return by period)"]


def test_the_row_limit_stops_reading_as_soon_as_it_is_passed():
    # what follows the limit is never read: an unterminated quote there would be a CSV error
    data = (rows(6) + 'sandwell,2024-01,PI1,"50\n' + "x" * 1000).encode()
    with pytest.raises(ReturnRejected, match=r"^r\.csv:7:-: too many rows"):
        parse_return("r.csv", data, SMALL, max_rows=5)


def test_the_limits_are_settings_with_their_defaults(monkeypatch):
    assert (Settings().max_return_mb, Settings().max_rows) == (20, 200_000)
    monkeypatch.setenv("KPI_ALERTS_MAX_RETURN_MB", "0.5")
    monkeypatch.setenv("KPI_ALERTS_MAX_ROWS", "7")
    assert (Settings().max_return_mb, Settings().max_rows) == (0.5, 7)
    for bad in ("0", "-1", "inf"):
        monkeypatch.setenv("KPI_ALERTS_MAX_RETURN_MB", bad)
        with pytest.raises(ValueError):
            Settings()


def test_ingest_refuses_more_rows_than_configured(make_settings):
    make_settings(max_rows=3)
    assert ingest_bytes("r.csv", rows(4).encode()).errors == [
        "r.csv:5:-: too many rows: more than 3 data rows (expected at most 3, the KPI_ALERTS_MAX_ROWS limit; split "
        "the return by period)"]
    assert not ingest_bytes("r.csv", rows(3).encode()).errors


# -- size ---------------------------------------------------------------------------------------------------

def test_ingest_refuses_a_file_over_the_size_limit_before_parsing(make_settings):
    make_settings(max_return_mb=0.001)  # 1,048 bytes
    data = rows(60).encode()
    assert len(data) > 1048
    assert ingest_bytes("r.csv", data).errors == [
        f"r.csv:0:-: file too large: {len(data):,} bytes (expected at most 0.001 MB, the KPI_ALERTS_MAX_RETURN_MB "
        "limit; split the return by period)"]


def test_a_file_over_the_limit_is_refused_by_its_size_without_being_read(settings, tmp_path: Path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(8 * 1024 ** 3)  # sparse 8 GB: reading it would take minutes and all the memory
    start = time.perf_counter()
    with session_for(settings.database_url) as session:
        result = ingest.ingest_path(session, load_catalog(settings.rules_dir), path, lambda _id: None,
                                    dt.datetime.now(dt.UTC), limits=ingest.ReturnLimits.of(settings))
    assert result.errors == [f"{path}:0:-: file too large: 8,192.0 MB (expected at most 20 MB, the "
                             "KPI_ALERTS_MAX_RETURN_MB limit; split the return by period)"]
    assert time.perf_counter() - start < 1.0


# -- the landing clock reaches the parser -------------------------------------------------------------------

def test_ingest_refuses_a_period_after_the_month_it_lands_in(settings, clock):
    assert NOW.strftime("%Y-%m") == "2026-02"
    result = ingest_bytes("k.csv", kpi_csv([("Apr-99", "PI1", "80")]))
    assert result.errors == ["k.csv:2:period: period 2099-04 is after this month (2026-02) (expected a month that "
                             "has begun)"]
    assert not ingest_bytes("k.csv", kpi_csv([("Feb-26", "PI1", "80")])).errors


# -- at most 100 problems -----------------------------------------------------------------------------------

def test_at_most_100_problems_are_listed_then_how_many_more(settings):
    data = (KPI + "".join(f"sandwell,2024-10,PI{i % 15 + 1},x{i}\n" for i in range(15))
            + "".join(f"sandwell,bad{i},PI1,50\n" for i in range(135))).encode()
    errors = ingest_bytes("k.csv", data).errors
    assert len(errors) == 101
    assert errors[0] == "k.csv:2:value: expected a number, got 'x0'"
    assert errors[99].startswith("k.csv:101:period: expected a period as") and errors[99].endswith("got 'bad84'")
    assert errors[100] == "and 50 more problems"


def test_problem_lines():
    found = [ReturnProblem("f", i, "-", "m") for i in range(1, 103)]
    assert problem_lines(found) == [str(p) for p in found[:100]] + ["and 2 more problems"]
    assert problem_lines(found[:101]) == [str(p) for p in found[:100]] + ["and 1 more problem"]
    assert problem_lines(found[:100]) == [str(p) for p in found[:100]]


# -- an XLSX within a memory budget -------------------------------------------------------------------------

def wide_workbook(data_rows: int) -> bytes:
    """A KPI workbook whose every row also has a cell in the last column (XFD), as a sheet
    with a stray far-right note has: openpyxl pads each such row to 16,384 cells."""
    book = openpyxl.Workbook()
    book.active.append(["provider", "period", "indicator", "value"])
    saved = io.BytesIO()
    book.save(saved)
    src = zipfile.ZipFile(io.BytesIO(saved.getvalue()))

    def inline(ref: str, text: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    body = ["<row r=\"1\">" + "".join(inline(f"{c}1", t) for c, t in zip("ABCD", ["provider", "period", "indicator",
                                                                                  "value"], strict=True)) + "</row>"]
    for r in range(2, data_rows + 2):
        body.append(f'<row r="{r}">{inline(f"A{r}", "sandwell")}{inline(f"B{r}", "2024-05")}{inline(f"C{r}", "PI1")}'
                    f'<c r="D{r}"><v>50</v></c><c r="XFD{r}"><v>1</v></c></row>')
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet '
           'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + "".join(body)
           + "</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            z.writestr(item.filename, xml if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename))
    return out.getvalue()


MEASURE = """
import resource, sys
from returns import ReturnRejected, parse_return
from tests.returns.catalogs import SMALL
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    parse_return("w.xlsx", data, SMALL)
except ReturnRejected as e:
    print("\\n".join(str(p) for p in e.problems))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_300_kb_xlsx_parses_within_a_memory_budget(tmp_path: Path):
    # Before streaming: this 280 KB workbook took 2,147 MB peak RSS and 67 s; then ~15 MB and ~2 s
    # reporting the stray cells; now reading stops at the first cell beyond KPI_ALERTS_MAX_COLUMNS.
    path = tmp_path / "wide.xlsx"
    path.write_bytes(wide_workbook(16_000))
    assert 250_000 < path.stat().st_size < 350_000
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    *problems, grown_mb = run.stdout.splitlines()
    assert problems == [
        "w.xlsx:2:-: a cell in XFD2, beyond column AX (expected at most 50 columns, the KPI_ALERTS_MAX_COLUMNS limit; "
        "delete the cells further right)"]
    assert int(grown_mb) < 100, f"parsing grew peak RSS by {grown_mb} MB"
