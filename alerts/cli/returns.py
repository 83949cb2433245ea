"""Returns and what they say: `ingest`, `status`, `history`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alerts.cli.common import RATING_STYLE, console, fail, load_catalog_or_exit, say

app = typer.Typer()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Return files (.csv, .xlsx, .json)")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a worker's evaluation (broker mode)")] = 60.0,
) -> None:
    """Land returns: parse, store, evaluate. A bad return is rejected whole (exit 2)."""
    from alerts.cli.json_output import ingest_json
    from alerts.steps import dispatcher_for
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.ingest import ingest_path
    from config import get_settings

    settings = get_settings()
    catalog = load_catalog_or_exit()
    evaluate = dispatcher_for(settings).evaluate
    rejected = False
    for path in paths:
        with session_for(settings.database_url) as session:
            result = ingest_path(session, catalog, path, evaluate, utcnow(), wait)
        if result.errors:
            rejected = True
            for line in result.errors:
                say(line, stderr=True)
        data = ingest_json(catalog, result)
        if as_json:
            print(json.dumps(data))
        elif result.landed:
            r = data["return"]
            say(f"{path}: {r['status']} return {r['id']} ({r['kind']}, {r['provider']}, "
                f"{', '.join(r['periods'])}): {len(data['evaluations'])} ratings, "
                f"{len(data['transitions'])} alert changes")
            for t in data["transitions"]:
                say(f"  {t['kind']:<11} {t['rule']} {t['subject']} {t['from'] or '-'} -> {t['to']} ({t['period']})")
    if rejected:
        raise typer.Exit(2)


@app.command()
def status(
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Current rating per (rule, subject): period, value, since when."""
    from rich.table import Table

    from alerts.cli.json_output import status_json
    from alerts.store.db import session_for
    from alerts.store.queries import current_status
    from config import get_settings

    catalog = load_catalog_or_exit()
    with session_for(get_settings().database_url) as session:
        rows = [status_json(catalog, r) for r in current_status(session, provider)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("rule", "code", "subject", "period", "value", "rating", "alert", "since", "alert id")
    for r in rows:
        style = RATING_STYLE.get(r["rating"], "")
        table.add_row(r["rule"], r["code"] or "", r["subject"], r["period"], f"{r['value']:g}",
                      f"[{style}]{r['rating'] or 'unrated'}[/]", r["alert"] or "", r["since"] or "",
                      str(r["alert_id"] or ""))
    console().print(table)


@app.command()
def history(
    indicator: Annotated[str, typer.Argument(help="Indicator key, rule id or contract code (e.g. PI1)")],
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The rated series of one indicator."""
    from rich.table import Table

    from alerts.cli.json_output import history_json
    from alerts.indicators import rules_for_indicator
    from alerts.store.db import session_for
    from alerts.store.queries import history as rated_series
    from config import get_settings

    catalog = load_catalog_or_exit()
    rule_ids = rules_for_indicator(catalog, indicator)
    if not rule_ids:
        raise fail(f"unknown indicator {indicator!r} (expected a rule id, indicator key or contract code)")
    with session_for(get_settings().database_url) as session:
        series = rated_series(session, rule_ids, provider)
    rows = [history_json(catalog, r) for r in series]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("period", "code", "rule", "subject", "value", "rating", "bands")
    for r, point in zip(rows, series, strict=True):
        text = "; ".join(f"{k} {v}" for k, v in point.thresholds.items() if v != "")
        style = RATING_STYLE.get(r["rating"], "")
        table.add_row(r["period"], r["code"] or "", r["rule"], r["subject"], f"{r['value']:g}",
                      f"[{style}]{r['rating'] or 'unrated'}[/]", text)
    console().print(table)
