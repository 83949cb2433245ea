"""`kpi-alerts rules check`: validate rule packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alerts.cli.common import say

app = typer.Typer(no_args_is_help=True, help="Rule packs.")


@app.command("check")
def rules_check(
    path: Annotated[Path | None, typer.Argument(help="A pack file or folder (default: the configured packs)")] = None,
) -> None:
    """Validate packs: schema, band gaps and overlaps, unknown measures, overlapping versions."""
    from rules.check import check_packs

    if path is None:
        from config import get_settings

        path = get_settings().rules_dir
    loaded, problems = check_packs(path)
    for p in problems:
        say(str(p))
    rules = sum(len(lp.pack.rules) for lp in loaded)
    if problems:
        say(f"{len(problems)} problem(s) in {path}", stderr=True)
        raise typer.Exit(1)
    say(f"{len(loaded)} pack(s), {rules} rule(s): ok")
