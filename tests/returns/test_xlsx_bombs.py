"""No XLSX costs a gigabyte: the archive is looked at before openpyxl opens it (declared
sizes, compression ratio, shared-string count, sheet dimensions against KPI_ALERTS_MAX_ROWS
and KPI_ALERTS_MAX_COLUMNS), and streaming stops at the caps. Each bomb is refused, located,
in well under a second and 150 MB, through the parser, `kpi-alerts ingest` and the inbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from alerts import steps
from alerts.steps import dispatcher_for
from returns import ReturnRejected, parse_return
from returns.readers.base import Caps
from tests.conftest import ROOT
from tests.returns import xlsx_bombs
from tests.returns.catalogs import SMALL

SMALL_CAPS = Caps(rows=100, columns=50)
SPLIT = "split the return by period, or save it as CSV)"


def refusal(data: bytes, caps: Caps = SMALL_CAPS) -> str:
    with pytest.raises(ReturnRejected) as e:
        parse_return("b.xlsx", data, SMALL, caps=caps)
    [problem] = e.value.problems
    return str(problem)


def test_a_part_unpacking_far_beyond_its_packed_size_is_refused():
    assert re.fullmatch(r"b\.xlsx:0:-: workbook part xl/media/padding\.bin unpacks to 4\.0 MB from [\d,]+ bytes "
                        r"\(expected an ordinary workbook, compressed at most 100 to 1; " + re.escape(SPLIT),
                        refusal(xlsx_bombs.zeros(4)))


def test_a_workbook_unpacking_to_more_than_20_times_the_file_limit_is_refused():
    caps = Caps(rows=100, columns=50, unpacked_bytes=1024 * 1024)
    assert refusal(xlsx_bombs.zeros(1), caps).startswith("b.xlsx:0:-: workbook unpacks to 1.0 MB (expected at most "
                                                         "1.0 MB, 20 times the KPI_ALERTS_MAX_RETURN_MB limit;")


def test_more_shared_strings_than_rows_times_columns_is_refused_by_their_declared_count():
    assert refusal(xlsx_bombs.shared_strings(5_001)) == (
        "b.xlsx:0:-: workbook declares 5,001 shared strings (expected at most 5,000, the KPI_ALERTS_MAX_ROWS limit "
        f"times KPI_ALERTS_MAX_COLUMNS; {SPLIT}")
    parse_return("ok.xlsx", xlsx_bombs.shared_strings(5_000), SMALL, caps=SMALL_CAPS)  # at the cap: read


def test_shared_strings_over_16_mb_are_refused_whatever_their_count_says():
    data = xlsx_bombs.distinct_shared_strings(1_000_000)  # 20 MB of XML, packed about 5 to 1
    assert refusal(data, Caps()) == ("b.xlsx:0:-: workbook's shared strings take 20.0 MB (expected at most 16.0 MB; "
                                     f"{SPLIT}")


def test_a_sheet_declaring_more_columns_than_the_cap_is_refused_before_it_is_read():
    assert refusal(xlsx_bombs.wide_sheet(rows=20, columns=51)) == (
        "b.xlsx:0:-: the sheet reaches column AY, beyond column AX (expected at most 50 columns, the "
        "KPI_ALERTS_MAX_COLUMNS limit; delete the cells further right)")


def test_a_sheet_declaring_more_rows_than_the_cap_is_refused_before_it_is_read():
    assert refusal(xlsx_bombs.wide_sheet(rows=201, columns=4)) == (
        "b.xlsx:0:-: the sheet reaches row 201 (expected at most 100 data rows, the KPI_ALERTS_MAX_ROWS limit; "
        f"{SPLIT}")


def test_without_a_dimension_reading_stops_at_the_first_cell_beyond_the_column_cap():
    assert refusal(xlsx_bombs.wide_sheet(rows=20, columns=51, dimension=False)) == (
        "b.xlsx:1:-: a cell in AY1, beyond column AX (expected at most 50 columns, the KPI_ALERTS_MAX_COLUMNS limit; "
        "delete the cells further right)")


def test_without_a_dimension_reading_stops_at_the_first_row_beyond_the_row_cap():
    assert refusal(xlsx_bombs.long_sheet(300)).startswith("b.xlsx:201:-: the sheet goes on past row 200 (expected at "
                                                          "most 100 data rows, the KPI_ALERTS_MAX_ROWS limit;")


def test_an_ordinary_workbook_is_still_read():
    parsed = parse_return("ok.xlsx", xlsx_bombs.ordinary(), SMALL, caps=SMALL_CAPS)
    assert [(o.period, o.value) for o in parsed.observations] == [("2024-05", 50)]


# -- full-size bombs, measured in a process of their own -------------------------------------------------------

# Peak RSS from VmHWM: ru_maxrss would carry over pytest's own peak through fork and exec.
PEAK_MB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024"
MEASURE = """
import sys, time
from returns import ReturnRejected, parse_return
from returns.readers.base import Caps
from tests.returns.catalogs import SMALL
data = open(sys.argv[1], "rb").read()
start = time.process_time()
try:
    parse_return("b.xlsx", data, SMALL, caps=Caps())
    print("accepted")
except ReturnRejected as e:
    print(e.problems[0])
print(time.process_time() - start, PEAK)
""".replace("PEAK", PEAK_MB)

BOMBS = {  # name: (builder, where the refusal points)
    # 15 million shared strings in 660 KB: 0.9 GB to open before (the 300 KB file)
    "shared strings": (lambda: xlsx_bombs.shared_strings(), "b.xlsx:0:-: workbook part xl/sharedStrings.xml"),
    # 16,000 x 1,000 cells: 266 s of CPU to read before
    "16,000 x 1,000 sheet": (lambda: xlsx_bombs.wide_sheet(), "b.xlsx:0:-: workbook part xl/worksheets/sheet1.xml"),
    # the same with fewer rows, so no ratio gives it away: its dimension does, or its first row
    "1,000 columns": (lambda: xlsx_bombs.wide_sheet(rows=60), "b.xlsx:0:-: the sheet reaches column ALL"),
    "1,000 columns, no dimension": (lambda: xlsx_bombs.wide_sheet(rows=60, dimension=False),
                                    "b.xlsx:1:-: a cell in AY1"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_each_bomb_is_refused_located_in_under_a_second_and_150_mb(name, tmp_path: Path):
    build, located = BOMBS[name]
    path = tmp_path / "b.xlsx"
    path.write_bytes(build())
    assert path.stat().st_size < 2 * 1024 * 1024
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    problem, measured = run.stdout.splitlines()
    cpu, peak_mb = measured.split()
    assert problem.startswith(located)
    assert float(cpu) < 1.0 and int(peak_mb) < 150, f"{name}: {cpu} s CPU, {peak_mb} MB peak RSS"


def test_kpi_alerts_ingest_refuses_the_shared_strings_bomb_in_150_mb(tmp_path: Path):
    path = tmp_path / "b.xlsx"
    path.write_bytes(xlsx_bombs.shared_strings())
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path}/k.db",
           "KPI_ALERTS_BROKER_URL": "", "HOME": str(tmp_path)}
    script = ("import sys\nfrom alerts.cli import app\nsys.argv = ['kpi-alerts', 'ingest', sys.argv[1]]\n"
              f"try:\n    app()\nexcept SystemExit as e:\n    print('exit', e.code, {PEAK_MB})\n")
    run = subprocess.run([sys.executable, "-c", script, str(path)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert f"{path}:0:-: workbook part xl/sharedStrings.xml unpacks to 257.5 MB" in run.stdout + run.stderr
    _, code, peak_mb = run.stdout.splitlines()[-1].split()
    assert code != "0" and int(peak_mb) < 150


def test_the_inbox_refuses_a_bomb_beside_its_located_problem(tmp_path: Path, make_settings):
    folder = tmp_path / "inbox"
    folder.mkdir()
    settings = make_settings(inbox_dir=folder, inbox_settle_seconds=0.3)
    (folder / "kpi.xlsx").write_bytes(xlsx_bombs.wide_sheet(rows=60))
    [out] = steps.inbox_scan(settings, dispatcher_for(settings), wait=True)
    assert (out.status, out.moved_to) == ("rejected", "rejected/kpi.xlsx")
    errors = (folder / "rejected" / "kpi.xlsx.errors.txt").read_text()
    assert errors.startswith("kpi.xlsx:0:-: the sheet reaches column ALL, beyond column AX")


THREE_AT_ONCE = """
import sys, threading, tempfile
from pathlib import Path
from fastapi.testclient import TestClient
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS
from alerts.api import create_app
from alerts.store.schema import upgrade_url
from tests.api.conftest import new_token

tmp = tempfile.mkdtemp()
s = Settings(database_url=f"sqlite:///{tmp}/a.db", broker_url="", rules_dir=SHIPPED_PACKS)
use_settings(s)
upgrade_url(s.database_url)
client = TestClient(create_app(s))
token = new_token(s, "t")
codes = []
def up(path):
    r = client.post("/api/returns", files={"file": ("b.xlsx", Path(path).read_bytes())},
                    headers={"Authorization": f"Bearer {token}"})
    codes.append(r.status_code)
threads = [threading.Thread(target=up, args=(p,)) for p in sys.argv[1:]]
[t.start() for t in threads]
[t.join() for t in threads]
print(sorted(codes), PEAK)
""".replace("PEAK", PEAK_MB)


def test_the_api_refuses_three_bombs_at_once_within_500_mb(tmp_path: Path):
    paths = []
    for name, build in (("s", xlsx_bombs.shared_strings), ("w", xlsx_bombs.wide_sheet),
                        ("l", lambda: xlsx_bombs.long_sheet(300_000))):
        (tmp_path / f"{name}.xlsx").write_bytes(build())
        paths.append(str(tmp_path / f"{name}.xlsx"))
    run = subprocess.run([sys.executable, "-c", THREE_AT_ONCE, *paths], cwd=ROOT, capture_output=True, text=True,
                         timeout=180, check=True)
    codes, peak_mb = run.stdout.strip().rsplit(" ", 1)
    assert codes == "[422, 422, 422]" and int(peak_mb) < 500, run.stdout  # measured: about 200 MB
