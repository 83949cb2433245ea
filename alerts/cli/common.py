"""What every command shares: the two consoles, failing with a message, the catalogue."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from rules.catalog import Catalog

RATING_STYLE = {"green": "green", "amber": "yellow", "red": "red", None: "dim"}
_consoles: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """stdout (False) or stderr (True); made on first use so importing a command is cheap."""
    if stderr not in _consoles:
        from rich.console import Console

        _consoles[stderr] = Console(stderr=stderr)
    return _consoles[stderr]


def say(message: str, stderr: bool = False) -> None:
    """Text as written: no markup, no highlighting, never wrapped (names come from returns
    and users, and scripts read `FILE:ROW:COLUMN` lines whole)."""
    print(message, file=sys.stderr if stderr else sys.stdout)


def fail(message: str, code: int = 2) -> typer.Exit:
    say(message, stderr=True)
    return typer.Exit(code)


def load_catalog_or_exit() -> Catalog:
    """The catalogue of the configured packs, loaded once per command; a pack problem is
    reported (exit 1), never raised as a traceback."""
    from config import get_settings
    from rules.loader import PackError, load_catalog

    try:
        return load_catalog(get_settings().rules_dir)
    except PackError as exc:
        for p in exc.problems:
            say(str(p), stderr=True)
        raise fail("rule packs have problems; run `kpi-alerts rules check`", 1) from None


def install_redaction() -> None:
    from alerts.notify.redact import install_log_redaction
    from config import get_settings

    install_log_redaction([get_settings().email_url])
