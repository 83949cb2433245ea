"""`kpi-alerts demo`: the Sandwell FY2024-25 example returns, end to end, on a throwaway
SQLite database with tasks run in-process."""

from __future__ import annotations

import re
import shlex
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

CELL = {"green": "bold white on green", "amber": "bold black on yellow", "red": "bold white on red"}
_ORDER = {"kpi": 0, "caseload": 1, "finance": 2}


app = typer.Typer()


@app.command()
def demo(
    examples: Annotated[Path | None, typer.Option(help="Folder of example returns")] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Keep the year in a local folder and serve the web app, "
                                        "emails written to the folder's mail/")] = False,
    port: Annotated[int, typer.Option(help="TCP port for --serve", min=1, max=65535)] = 8000,
    folder_: Annotated[Path, typer.Option("--folder", help="Local folder for --serve (made fresh each run)")] = Path(
        "kpi-alerts-demo"),
) -> None:
    """Ingest the Sandwell FY2024-25 example returns into a fresh temporary database and
    show month-by-month RAG per KPI, band counts and alert transitions. With --serve: into a
    local folder, then sign a local admin in and serve the web app until Ctrl-C."""
    from alerts.cli.common import console
    from alerts.examples import SANDWELL

    out = console()
    folder = examples or SANDWELL
    if serve:
        from alerts.cli.demo_serve import run

        run(out, example_files(folder), _run, folder_, port)
        return
    run_demo(out, folder)
    out.print("\nThe same year in a browser, one command: `kpi-alerts demo --serve` (or `make serve`): the year in\n"
              "./kpi-alerts-demo/, its emails as files in mail/, a sign-in link printed, the web app on port 8000.\n"
              "By hand (a database in this folder; the sign-in link printed, not emailed;\n"
              "after `. .venv/bin/activate` when `make demo` made the virtualenv):\n"
              f"  kpi-alerts ingest {_shown(folder)}/*[0-9].*\n"
              "  kpi-alerts users add you@example.org --role admin\n"
              "  kpi-alerts users link you@example.org    # open it once `serve` runs\n"
              "  kpi-alerts serve                         # http://127.0.0.1:8000/", highlight=False, markup=False)


def _shown(folder: Path) -> str:
    """The folder as the user can type it: relative inside this folder (a checkout), else
    absolute (installed from a wheel, the examples are inside the package)."""
    try:
        shown = str(folder.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(folder.resolve())
    return shlex.quote(shown)


def fmt(value: float) -> str:
    return f"{round(value, 2):g}"


def example_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx", ".json") and "-" in p.stem
             and p.stem.split("-")[0] in _ORDER and re.search(r"\d{4}-\d{2}$", p.stem)]
    return sorted(files, key=lambda p: (_ORDER[p.stem.split("-")[0]], p.stem))


def run_demo(console: Console, examples: Path | None = None) -> dict:
    from rich.console import Console

    from alerts.examples import SANDWELL
    from config import Settings, get_settings, use_settings

    folder = examples or SANDWELL
    files = example_files(folder)
    if not files:
        raise SystemExit(f"no example returns in {folder}")
    if console.width < 140:  # piped or narrow: a month-by-month table needs room
        console = Console(width=140, file=console.file)
    base = get_settings()
    with tempfile.TemporaryDirectory(prefix="kpi-alerts-demo-") as tmp:
        use_settings(Settings(database_url=f"sqlite:///{Path(tmp) / 'demo.db'}", broker_url="",
                              rules_dir=base.rules_dir, timezone=base.timezone))
        try:
            return _run(console, files)
        finally:
            use_settings(None)


def _run(console: Console, files: list[Path]) -> dict:
    from rich import box
    from rich.progress import Progress
    from rich.table import Table

    from alerts.digest.compose import position_sentence
    from alerts.steps import InProcess
    from alerts.store.db import session_for
    from alerts.store.queries import all_alert_events, current_ratings
    from alerts.templating import fmt_value, share
    from alerts.usecases.intake import Intake, Rejected
    from config import get_settings
    from rules import vocabulary
    from rules.loader import load_catalog

    settings = get_settings()
    catalog = load_catalog(settings.rules_dir)
    intake = Intake(settings, InProcess(settings).evaluate, catalog)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Ingesting example returns", total=len(files))
        for path in files:
            match intake.land_path(path):
                case Rejected(errors=errors):
                    for line in errors:
                        console.print(line, markup=False)
                    raise SystemExit(2)
            progress.advance(task)
    console.print(f"Ingested {len(files)} example returns into a temporary SQLite database "
                  f"(tasks in-process).\n", highlight=False)

    with session_for(settings.database_url) as session:
        ratings = current_ratings(session)
        events = all_alert_events(session)

    suite_rules = [b for b in catalog.rules if b.suite == "2024" and b.code]
    suite_rules.sort(key=lambda b: int(b.code[2:]) if b.code and b.code[2:].isdigit() else 99)
    kpi = defaultdict(dict)
    for r in ratings:
        if r.kind == "kpi":
            kpi[r.rule_id][r.period] = r
    periods = sorted({p for series in kpi.values() for p in series})

    table = Table(title="Sandwell contract KPIs (2024 suite), month by month", box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("KPI", no_wrap=True, max_width=24)
    for p in periods:
        table.add_column(p[2:], justify="right", min_width=5)
    for col in ("G", "A", "R"):  # months on target, within tolerance, in failure
        table.add_column(col, justify="right")
    band_counts: dict[str, Counter] = {}
    for b in suite_rules:
        series = kpi.get(b.id, {})
        counts = Counter(r.rating for r in series.values())
        band_counts[b.code] = counts  # type: ignore[index]
        cells = [f"[{CELL[series[p].rating]}]{fmt(series[p].value)}[/]" if p in series else "" for p in periods]
        table.add_row(f"{b.code} {b.rule.name}", *cells,
                      str(counts["green"]), str(counts["amber"]), str(counts["red"]))
    console.print(table)

    year_end = periods[-1] if periods else None
    position = Counter(kpi[b.id][year_end].rating for b in suite_rules if year_end in kpi.get(b.id, {}))
    if year_end:
        console.print(f"Position at {year_end}: {position_sentence(position)}.\n", highlight=False)

    names = {b.id: (b.code or b.id) for b in catalog.rules}
    moves = Table(title=f"Alert transitions ({len(events)})", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in ("period", "transition", "rule", "subject", "now", "was", "value"):
        moves.add_column(col, no_wrap=True)
    for e in events:
        subject = e.subject.removeprefix(f"{e.provider}/") if e.subject != e.provider else e.provider
        moves.add_row(e.period, e.kind, names.get(e.rule_id, e.rule_id), subject,
                      f"[{CELL.get(e.to_state, '')}]{vocabulary.labelled(e.to_state)}[/]",
                      vocabulary.labelled(e.from_state) if e.from_state else "-", fmt(e.value))
    console.print(moves)

    other = [r for r in ratings if r.kind != "kpi"]
    if other:
        console.print("\nFinance and caseloads", style="bold")
        by_rule = defaultdict(list)
        for r in other:
            by_rule[r.rule_id].append(r)
        for rule_id, rows in sorted(by_rule.items()):
            counts = Counter(r.rating for r in rows)
            name = catalog.rules_by_id[rule_id].rule.name
            if len(rows) == 1:
                r = rows[0]
                rule = catalog.rules_by_id[rule_id].rule
                shown = fmt_value(r.value, rule.unit)
                if rule.amount is not None:  # a percentage of an amount in pounds: say of what
                    of = catalog.measures.get(rule.amount.of)
                    what = of.name if of else rule.amount.of
                    shown = f"{share(r.value)} of {what[:1].lower()}{what[1:]}"
                console.print(f"  {name} ({r.period}): {shown} -> [{CELL[r.rating]}]{vocabulary.labelled(r.rating)}[/]",
                              highlight=False)
            else:
                noun = catalog.rules_by_id[rule_id].rule.scope
                console.print(f"  {name} ({rows[0].period}): {len(rows)} rated, {vocabulary.position(counts, noun)}",
                              highlight=False)
    return {"band_counts": band_counts, "year_end": dict(position), "transitions": len(events)}
