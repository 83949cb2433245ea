"""What every command shares: the two consoles, failing with a message, the catalogue."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from rules.catalog import Catalog

RATING_STYLE = {"green": "green", "amber": "yellow", "red": "red", None: "dim"}
PIPE_WIDTH = 100_000  # not a terminal: tables as wide as their values (no `Comm...`, no wrapping)


def console(stderr: bool = False) -> Console:
    """stdout (False) or stderr (True), made when used so importing a command is cheap. A
    terminal gets its own width; a pipe or file gets room for every value whole."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, width=None if tty else PIPE_WIDTH)


def shown(value: object) -> str:
    """Text for a terminal: control and invisible characters (ESC, CSI, CR, LF, bidi
    overrides) as visible escapes such as `\\x1b`, so a name from a return or a user can
    neither move the cursor, recolour the screen nor fake a line. JSON output stays exact."""
    text = "" if value is None else str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def cell(value: object, style: str = "") -> Text:
    """A table cell shown as written (never read as rich markup), escaped by `shown`."""
    from rich.text import Text

    return Text(shown(value), style=style)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table on stdout; each cell a str (escaped, no markup) or a `cell(...)` with a style."""
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers)
    for row in rows:
        table.add_row(*(c if isinstance(c, Text) else cell(c) for c in row))
    console().print(table)


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
