"""The inbox folder on real files in temporary folders: a file is taken once it has stopped
changing, claimed by one scanner only, and moved to done/ or rejected/ (beside its errors)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from alerts import steps
from alerts.steps import dispatcher_for
from alerts.store.db import session_for
from alerts.store.models import ReturnRecord
from alerts.usecases import inbox as inbox_mod
from alerts.usecases import intake as intake_mod
from alerts.usecases.inbox import Look, candidate_names, is_candidate, is_stable, next_look, original_name
from tests.conftest import kpi_csv


def look(size=10, mtime=1_000, at=0.0, inode=7) -> Look:
    return Look(size, mtime, at, inode)


# --- pure decisions --------------------------------------------------------------------------


def test_stable_means_the_same_size_and_mtime_at_two_looks_far_enough_apart():
    assert is_stable(look(at=0), look(at=5), 5)
    assert not is_stable(None, look(at=5), 5)  # one look is never enough
    assert not is_stable(look(at=0), look(at=4.9), 5)  # too close together
    assert not is_stable(look(at=0), look(size=11, at=9), 5)  # grew
    assert not is_stable(look(at=0), look(mtime=1_001, at=9), 5)  # rewritten, same size
    assert not is_stable(look(at=0), look(inode=8, at=9), 5)  # replaced by another file


@given(st.integers(0, 10**9), st.integers(0, 10**18), st.integers(0, 10**6), st.integers(0, 100), st.integers(0, 5))
def test_a_file_unchanged_for_the_settle_time_is_stable(size, mtime, at, settle, more):
    assert is_stable(Look(size, mtime, at), Look(size, mtime, at + settle + more), settle)
    assert not is_stable(Look(size, mtime, at), Look(size + 1, mtime, at + settle + more), settle)


def test_the_look_kept_is_the_earliest_that_still_matches():
    first = look(at=0)
    assert next_look(first, look(at=30)) == first
    assert next_look(first, look(size=99, at=30)) == look(size=99, at=30)
    assert next_look(None, look(at=3)) == look(at=3)


@pytest.mark.parametrize("name", [".hidden", ".kpi-alerts-inbox.json", "kpi.csv.part", "kpi.csv~", "kpi.tmp",
                                  "kpi.csv.filepart", "kpi.xlsx.crdownload", "kpi.partial", ""])
def test_dotfiles_and_partial_uploads_are_not_candidates(name):
    assert not is_candidate(name)


def test_returns_are_candidates():
    assert all(map(is_candidate, ["kpi-2025-03.csv", "finance.xlsx", "r.json", "NOSUFFIX"]))


def test_names_on_a_clash_get_a_timestamp_then_a_counter():
    names = candidate_names("kpi-2025-03.csv", "20260218T090000Z")
    assert [next(names) for _ in range(3)] == ["kpi-2025-03.csv", "kpi-2025-03-20260218T090000Z.csv",
                                               "kpi-2025-03-20260218T090000Z-2.csv"]
    assert list(itertools.islice(candidate_names("README", "S"), 2)) == ["README", "README-S"]
    assert original_name("123-abcdef--kpi--x.csv") == "kpi--x.csv"


# --- on real files -----------------------------------------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path, make_settings):
    folder = tmp_path / "inbox"
    folder.mkdir()
    settings = make_settings(inbox_dir=folder, inbox_settle_seconds=0.3)
    return folder, settings


def scan(settings, wait=True):
    return steps.inbox_scan(settings, dispatcher_for(settings), wait=wait)


def returns_stored(settings) -> int:
    with session_for(settings.database_url) as s:
        return s.execute(select(func.count()).select_from(ReturnRecord)).scalar_one()


def test_a_settled_return_lands_and_moves_to_done(inbox):
    folder, settings = inbox
    (folder / "kpi-2024-10.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    [out] = scan(settings)
    assert (out.name, out.status, out.moved_to) == ("kpi-2024-10.csv", "accepted", "done/kpi-2024-10.csv")
    assert out.line.startswith("kpi-2024-10.csv: accepted return 1 (kpi, sandwell, 2024-10)")
    assert (folder / "done" / "kpi-2024-10.csv").read_bytes() == kpi_csv([("2024-10", "PI1", "68.8")])
    assert not (folder / "kpi-2024-10.csv").exists() and not list((folder / "processing").iterdir())
    # the same name again (a duplicate here) never overwrites what done/ holds
    (folder / "kpi-2024-10.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    [again] = scan(settings)
    assert again.status == "duplicate"
    assert again.moved_to and again.moved_to.startswith("done/kpi-2024-10-") and again.moved_to.endswith("Z.csv")
    assert len(list((folder / "done").iterdir())) == 2 and returns_stored(settings) == 1


def test_a_rejected_return_moves_to_rejected_beside_every_problem_line(inbox):
    folder, settings = inbox
    (folder / "bad.csv").write_text("provider,period,indicator,value\nsandwell,2024-10,PI99,1\n"
                                    "sandwell,2024-10,PI1,abc\n")
    [out] = scan(settings)
    assert (out.status, out.moved_to) == ("rejected", "rejected/bad.csv")
    assert (folder / "rejected" / "bad.csv.errors.txt").read_text().splitlines() == [
        "bad.csv:2:indicator: unknown indicator 'PI99' for period 2024-10 (expected an indicator key or a "
        "contract code in force then)",
        "bad.csv:3:value: expected a number, got 'abc'"]
    assert returns_stored(settings) == 0
    # the same name rejected again: both files and both error lists kept
    (folder / "bad.csv").write_text("nonsense\n")
    [again] = scan(settings)
    name = (again.moved_to or "").removeprefix("rejected/")
    assert name != "bad.csv" and (folder / "rejected" / f"{name}.errors.txt").read_text().startswith("bad.csv:")
    assert (folder / "rejected" / "bad.csv.errors.txt").read_text().count("\n") == 2


def test_dotfiles_partial_uploads_and_subfolders_stay_where_they_are(inbox):
    folder, settings = inbox
    for name in (".hidden.csv", "kpi.csv.part", "kpi.csv~"):
        (folder / name).write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    (folder / "archive").mkdir()
    (folder / "archive" / "old.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    assert scan(settings) == []
    assert {p.name for p in folder.iterdir()} >= {".hidden.csv", "kpi.csv.part", "kpi.csv~", "archive"}
    assert returns_stored(settings) == 0


def test_a_file_still_being_written_is_not_taken(inbox):
    folder, settings = inbox
    path = folder / "kpi.csv"
    rows = [("2024-10", "PI1", "68.8"), ("2024-10", "PI2", "66.8"), ("2024-10", "PI3", "80")]
    body = kpi_csv(rows)
    stop = threading.Event()

    def writer() -> None:  # an upload trickling in: a few bytes every 50 ms
        with path.open("wb") as f:
            for i in range(len(body)):
                if stop.is_set():
                    break
                f.write(body[i:i + 1])
                f.flush()
                time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.1)
        outcomes = scan(settings)
        assert [(o.name, o.status) for o in outcomes] == [("kpi.csv", "waiting")]
        assert path.exists() and returns_stored(settings) == 0
    finally:
        t.join()
    [out] = scan(settings)  # finished: the next scan takes it whole
    assert out.status == "accepted" and (folder / "done" / "kpi.csv").read_bytes() == body


def test_beats_scans_are_each_others_second_look(inbox):
    folder, settings = inbox
    (folder / "kpi.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    [first] = scan(settings, wait=False)
    assert first.status == "waiting" and (folder / ".kpi-alerts-inbox.json").exists()
    time.sleep(0.35)
    [second] = scan(settings, wait=False)
    assert second.status == "accepted"
    assert "kpi.csv" not in (folder / ".kpi-alerts-inbox.json").read_text()


def test_a_failed_landing_gives_the_file_back_for_the_next_scan(inbox, monkeypatch):
    folder, settings = inbox
    (folder / "kpi.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))

    def down(*_a, **_k):
        raise OSError("database is down")

    monkeypatch.setattr(intake_mod, "ingest_bytes", down)
    [out] = scan(settings)
    assert out.status == "failed" and "left in the inbox" in out.line and (folder / "kpi.csv").exists()
    monkeypatch.undo()
    time.sleep(0.35)
    assert [o.status for o in scan(settings)] == ["accepted"]


def test_a_claim_left_by_a_dead_scanner_is_taken_again(inbox, monkeypatch):
    folder, settings = inbox
    (folder / "processing").mkdir()
    (folder / "processing" / "4242-deadbeef0000--kpi.csv").write_bytes(kpi_csv([("2024-10", "PI1", "68.8")]))
    monkeypatch.setattr(inbox_mod, "STALE_CLAIM_SECONDS", 0.0)
    [out] = scan(settings)
    assert (out.name, out.status, out.moved_to) == ("kpi.csv", "accepted", "done/kpi.csv")


def test_two_scanners_at_once_land_each_file_exactly_once(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    periods = [f"2024-{m:02d}" for m in range(4, 13)] + ["2025-01", "2025-02", "2025-03"]
    old = time.time() - 60
    for p in periods:
        path = folder / f"kpi-{p}.csv"
        path.write_bytes(kpi_csv([(p, "PI1", "80")]))
        os.utime(path, (old, old))
    env = {**os.environ, "KPI_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'two.db'}", "KPI_ALERTS_BROKER_URL": "",
           "KPI_ALERTS_INBOX_DIR": str(folder), "KPI_ALERTS_INBOX_SETTLE_SECONDS": "0.5"}
    exe = Path(sys.executable).with_name("kpi-alerts")
    procs = [subprocess.Popen([str(exe), "inbox", "scan"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = [line for out, _ in outs for line in out.splitlines()]
    landed = sorted(line.split(":")[0] for line in lines if ": accepted return" in line)
    assert landed == sorted(f"kpi-{p}.csv" for p in periods), lines
    assert not any("duplicate" in line for line in lines)
    assert sorted(p.name for p in (folder / "done").iterdir()) == landed
    assert not list((folder / "processing").iterdir())


def test_beat_scans_the_inbox_every_scan_seconds_only_when_there_is_one(make_settings, tmp_path):
    from workers.app import make_app

    make_settings()
    assert "inbox-scan" not in make_app().conf.beat_schedule
    make_settings(inbox_dir=tmp_path, inbox_scan_seconds=12)
    entry = make_app().conf.beat_schedule["inbox-scan"]
    assert (entry["task"], entry["schedule"]) == (steps.INBOX_SCAN, 12)


def test_no_inbox_setting_means_no_inbox(monkeypatch):
    from config import Settings

    monkeypatch.setenv("KPI_ALERTS_INBOX_DIR", "")
    assert Settings(_env_file=None).inbox_dir is None
    assert Settings(_env_file=None).inbox_scan_seconds == 30
