"""Running `kpi-alerts` in-process, as `typer.testing.CliRunner` does, with the test's settings.

`cli(*args, **settings)` answers like `subprocess.run` (returncode, stdout, stderr), so a test
reads the same either way; settings are `Settings` fields (`email_url=...`), not env vars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from alerts.cli import app
from config import Settings, use_settings
from rules.loader import SHIPPED_PACKS


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Ran]


def make_cli(database: Path | str) -> Cli:
    """On a SQLite file (a Path) or any database URL."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    base = {"database_url": url, "broker_url": "", "rules_dir": SHIPPED_PACKS}

    def cli(*args: str, **settings: object) -> Ran:
        use_settings(Settings(**{**base, **settings}))  # type: ignore[arg-type]
        try:
            res = CliRunner().invoke(app, list(args), catch_exceptions=False)
        finally:
            use_settings(None)
        return Ran(res.exit_code, res.stdout, res.stderr)

    return cli
