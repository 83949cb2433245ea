"""The inbox folder: `inbox scan`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alerts.cli.common import fail, load_catalog_or_exit, say, shown

app = typer.Typer(help="The inbox folder (KPI_ALERTS_INBOX_DIR): scan it now.", no_args_is_help=True)


@app.command("scan")
def inbox_scan(
    directory: Annotated[Path | None, typer.Option("--dir", help="The inbox (default: KPI_ALERTS_INBOX_DIR)")] = None,
) -> None:
    """One scan now: land every file that has stopped changing, move it to done/ (a held one beside
    NAME.queries.txt) or rejected/ (beside NAME.errors.txt); one line per file. Exit 2 if any was
    rejected, else 3 if any was held. Safe beside beat and other scans (cron): a file is claimed
    by one scanner only."""
    from alerts.steps import dispatcher_for, inbox_scan
    from config import get_settings

    settings = get_settings()
    if directory is not None:
        settings = settings.model_copy(update={"inbox_dir": directory})
    if settings.inbox_dir is None:
        raise fail("no inbox: set KPI_ALERTS_INBOX_DIR (or give --dir)")
    if not settings.inbox_dir.is_dir():
        raise fail(f"the inbox {shown(settings.inbox_dir)} is not a directory")
    load_catalog_or_exit()  # a pack problem is reported, never a traceback
    outcomes = inbox_scan(settings, dispatcher_for(settings), wait=True)
    if not outcomes:
        say(f"nothing in {shown(settings.inbox_dir)}")
    for o in outcomes:
        say(shown(o.line))
    if any(o.status == "rejected" for o in outcomes):
        raise typer.Exit(2)
    if any(o.status == "held" for o in outcomes):
        raise typer.Exit(3)
