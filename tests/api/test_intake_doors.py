"""Every door lands through the one intake: the command line's `ingest --json`, `POST
/api/returns` and the inbox folder give the same status for the same file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from alerts import steps
from tests.cli import make_cli
from tests.conftest import sqlite_url
from tests.test_intake import BAD, RIGHT, TYPO

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def copy_year(source: Path, target: Path) -> str:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return sqlite_url(target)


# (name, bytes, the status every door gives, the command line's exit code, the API's status code)
FILES = [("kpi-2025-04.csv", TYPO, "held", 3, 202), ("kpi-2025-04-corrected.csv", RIGHT, "accepted", 0, 201),
         ("again.csv", RIGHT, "duplicate", 0, 200), ("bad.csv", BAD, "rejected", 2, 422)]


def test_every_door_gives_the_same_status_for_the_same_file(landed_year_db, tmp_path, make_api, make_settings,
                                                            clock):
    """The command line's `ingest --json`, `POST /api/returns` and the inbox folder, each on its
    own copy of the landed year, fed the same files in the same order."""
    run = make_cli(copy_year(landed_year_db, tmp_path / "cli.db"))
    api = make_api("api.db", database_url=copy_year(landed_year_db, tmp_path / "api.db"))
    folder = tmp_path / "inbox"
    folder.mkdir()
    inbox = make_settings("inbox.db", database_url=copy_year(landed_year_db, tmp_path / "inbox.db"),
                          inbox_dir=folder, inbox_settle_seconds=0)
    seen: dict[str, list] = {"cli": [], "api": [], "inbox": []}
    for name, data, *_ in FILES:
        path = tmp_path / name
        path.write_bytes(data)
        printed = run("ingest", "--json", str(path))
        seen["cli"].append((json.loads(printed.stdout)["return"]["status"], printed.returncode))
        answer = api.upload(name, data)
        seen["api"].append(("rejected" if answer.status_code == 422 else answer.json()["return"]["status"],
                            answer.status_code))
        (folder / name).write_bytes(data)
        [out] = steps.inbox_scan(inbox, steps.dispatcher_for(inbox), wait=True)
        seen["inbox"].append(out.status)
    assert seen == {"cli": [(status, code) for _, _, status, code, _ in FILES],
                    "api": [(status, code) for _, _, status, _, code in FILES],
                    "inbox": [status for _, _, status, *_ in FILES]}
