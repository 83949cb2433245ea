"""Shared fixtures: every test gets its own SQLite file; nothing touches the working copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS
from tests.peers.smtp import smtp_server  # noqa: F401  (fixture)
from tests.peers.teams import teams_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "sandwell-2024-25"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'test.db'}", broker_url="", rules_dir=SHIPPED_PACKS)
    use_settings(s)
    yield s
    use_settings(None)


def kpi_csv(rows: list[tuple[str, str, str]], provider: str = "sandwell") -> bytes:
    """A KPI return: rows of (period, indicator, value)."""
    lines = ["provider,period,indicator,value"] + [f"{provider},{p},{i},{v}" for p, i, v in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def cli(tmp_path: Path):  # noqa: ANN201
    """`kpi-alerts` in-process on this test's own SQLite file (see tests/cli.py)."""
    from tests.cli import make_cli

    return make_cli(tmp_path / "cli.db")
