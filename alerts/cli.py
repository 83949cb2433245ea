"""`kpi-alerts`: the command line. Exit 0 ok, 1 check failures, 2 rejected input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.store.db import session_for
from config import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Event-driven alerts on contract KPI returns.")
rules_app = typer.Typer(no_args_is_help=True, help="Rule packs.")
app.add_typer(rules_app, name="rules")
out = Console()
err = Console(stderr=True)

RATING_STYLE = {"green": "green", "amber": "yellow", "red": "red", None: "dim"}


def _catalog():  # noqa: ANN202 - a pack error is reported, not raised as a traceback
    from rules.check import PackError, load_catalog

    try:
        return load_catalog(get_settings().rules_dir)
    except PackError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False, highlight=False)
        err.print("rule packs have problems; run `kpi-alerts rules check`", markup=False)
        raise typer.Exit(1) from None


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Return files (.csv, .xlsx, .json)")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a worker's evaluation (broker mode)")] = 60.0,
) -> None:
    """Land returns: parse, store, evaluate. A bad return is rejected whole (exit 2)."""
    from alerts.json_output import ingest_json
    from alerts.store.models import utcnow
    from alerts.usecases.ingest import ingest_path
    from workers.tasks import dispatch_evaluation

    catalog = _catalog()
    rejected = False
    for path in paths:
        with session_for(get_settings().database_url) as session:
            result = ingest_path(session, catalog, path, dispatch_evaluation, utcnow(), wait)
        if result.errors:
            rejected = True
            for line in result.errors:
                err.print(line, markup=False, highlight=False)
        if as_json:
            print(json.dumps(ingest_json(catalog, result)))
        elif result.landed:
            data = ingest_json(catalog, result)
            r = data["return"]
            out.print(f"{path}: {r['status']} return {r['id']} ({r['kind']}, {r['provider']}, "
                      f"{', '.join(r['periods'])}): {len(data['evaluations'])} ratings, "
                      f"{len(data['transitions'])} alert changes", markup=False, highlight=False)
            for t in data["transitions"]:
                out.print(f"  {t['kind']:<11} {t['rule']} {t['subject']} {t['from'] or '-'} -> {t['to']} "
                          f"({t['period']})", markup=False, highlight=False)
    if rejected:
        raise typer.Exit(2)


@app.command()
def status(
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Current rating per (rule, subject): period, value, since when."""
    from alerts.store.queries import current_status

    with session_for(get_settings().database_url) as session:
        rows = current_status(session, _catalog(), provider)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("rule", "code", "subject", "period", "value", "rating", "alert", "since", "alert id")
    for r in rows:
        style = RATING_STYLE.get(r["rating"], "")
        table.add_row(r["rule"], r["code"] or "", r["subject"], r["period"], f"{r['value']:g}",
                      f"[{style}]{r['rating'] or 'unrated'}[/]", r["alert"] or "", r["since"] or "",
                      str(r["alert_id"] or ""))
    out.print(table)


@app.command()
def history(
    indicator: Annotated[str, typer.Argument(help="Indicator key, rule id or contract code (e.g. PI1)")],
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The rated series of one indicator."""
    from alerts.store.queries import history as rated_series

    catalog = _catalog()
    with session_for(get_settings().database_url) as session:
        try:
            rows = rated_series(session, catalog, indicator, provider)
        except LookupError as exc:
            err.print(str(exc.args[0]), markup=False)
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("period", "code", "rule", "subject", "value", "rating", "bands")
    for r in rows:
        bands = json.loads(r["thresholds"])
        text = "; ".join(f"{k} {v}" for k, v in bands.items() if v != "")
        style = RATING_STYLE.get(r["rating"], "")
        table.add_row(r["period"], r["code"] or "", r["rule"], r["subject"], f"{r['value']:g}",
                      f"[{style}]{r['rating'] or 'unrated'}[/]", text)
    out.print(table)


@rules_app.command("check")
def rules_check(
    path: Annotated[Path | None, typer.Argument(help="A pack file or folder (default: the configured packs)")] = None,
) -> None:
    """Validate packs: schema, band gaps and overlaps, unknown measures, overlapping versions."""
    from rules.check import check_packs

    target = path or get_settings().rules_dir
    loaded, problems = check_packs(target)
    for p in problems:
        out.print(str(p), markup=False, highlight=False)
    rules = sum(len(lp.pack.rules) for lp in loaded)
    if problems:
        err.print(f"{len(problems)} problem(s) in {target}", markup=False)
        raise typer.Exit(1)
    out.print(f"{len(loaded)} pack(s), {rules} rule(s): ok", markup=False)


@app.command()
def demo(
    examples: Annotated[Path | None, typer.Option(help="Folder of example returns")] = None,
) -> None:
    """Ingest the Sandwell FY2024-25 example returns into a fresh temporary database and
    show month-by-month RAG per KPI, band counts and alert transitions."""
    from alerts.demo import run_demo

    run_demo(out, examples)


def main() -> None:
    from alerts.cli_notify import register
    from alerts.notify.redact import install_log_redaction
    from config import get_settings

    install_log_redaction([get_settings().email_url])  # before anything can log the SMTP password
    register(app)
    app()


if __name__ == "__main__":
    main()
