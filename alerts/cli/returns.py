"""Returns and what they say: `ingest`, `status`, `history`, `returns pending`, `returns confirm`,
`returns release`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alerts.cli.common import RATING_STYLE, cell, fail, load_catalog_or_exit, print_table, say, shown

app = typer.Typer()
returns_app = typer.Typer(help="Stored returns: those awaiting evaluation or held with queries (confirm one); "
                               "the expected-returns calendar.", no_args_is_help=True)
app.add_typer(returns_app, name="returns")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Return files (.csv, .xlsx, .json)")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a worker's evaluation (broker mode)")] = 60.0,
    confirm: Annotated[bool, typer.Option("--confirm", help="Accept any queries up front: land and evaluate "
                                                            "as usual, recording who confirmed them")] = False,
) -> None:
    """Land returns: parse, store, evaluate. A bad return is rejected whole (exit 2); a stored
    return whose evaluation failed stays pending (exit 1): ingest the same file again to retry.
    A return with queries (a value far outside its history, last month's figures relabelled) is
    stored but held, nothing rated and nobody told (exit 3), each query printed as
    FILE:ROW:COLUMN: query: ...: confirm it (`returns confirm ID --by NAME`, or ingest it again
    with --confirm) or ingest a corrected file."""
    from alerts.steps import dispatcher_for
    from alerts.usecases.intake import Intake
    from config import get_settings

    settings = get_settings()
    intake = Intake(settings, dispatcher_for(settings).evaluate, load_catalog_or_exit())
    by = f"{_os_user()} (command line)" if confirm else None
    results = []
    for path in paths:
        result = intake.land_path(path, wait=wait, confirm_by=by, told=True)
        _report(str(path), result, intake, as_json, wait, echo=True)
        results.append(result)
    statuses = {r.status for r in results}
    if "rejected" in statuses:
        raise typer.Exit(2)
    if any(_failed(r) for r in results):
        raise typer.Exit(1)
    if "held" in statuses:
        raise typer.Exit(3)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): still recorded as the command line
        return "someone"


def _failed(result) -> bool:  # noqa: ANN001 - an IntakeResult
    """Stored but its evaluation failed: pending until the same file is ingested again (exit 1)."""
    from alerts.usecases.intake import LandedPending

    return isinstance(result, LandedPending) and result.reason == "failed"


def _report(label: str, result, intake, as_json: bool, wait: float, echo: bool = False) -> None:  # noqa: ANN001
    """One landing (or confirmation) as `ingest` reports it: its problems and queries (`echo`) and
    notes on stderr, then `ingest --json`'s object or a summary line on stdout."""
    from alerts.usecases.intake import Duplicate, Held, LandedEvaluated, LandedPending, Rejected
    from alerts.usecases.intake_json import intake_json

    data = intake_json(intake.catalog, result)
    ratings = f"{len(data['evaluations'])} ratings, {len(data['transitions'])} alert changes"
    notes: list[str] = []
    match result:
        case Rejected(errors=errors):
            notes, done = list(errors), None
        case Held(landed=landed, queries=queries):
            n = len(queries)
            notes = list(queries) if echo else []
            done = (f"{n} quer{'y' if n == 1 else 'ies'}: nothing rated, nobody told; confirm it (kpi-alerts returns "
                    f"confirm {landed.return_id} --by NAME) or ingest a corrected file")
        case LandedPending(reason="failed", landed=landed, detail=why):
            notes = [f"{label}: return {landed.return_id} is stored but its evaluation failed ({why}); it is pending "
                     "(kpi-alerts returns pending): ingest the same file again to retry"]
            done = "evaluation pending"
        case LandedPending(reason="deferred", landed=landed, detail=why):
            notes = [f"{label}: return {landed.return_id} is stored; the broker is unreachable ({why}), so its "
                     "evaluation is queued for the relay, which hands it to a worker once the broker is back "
                     "(kpi-alerts returns pending lists it until then)"]
            done = "evaluation pending (queued for the relay: the broker is unreachable)"
        case LandedPending() | Duplicate(evaluated=False):
            done = f"evaluation pending (queued; no worker finished it within {wait:g} s)"
        case LandedEvaluated(resumed=True, landed=landed):
            notes = [f"{label}: return {landed.return_id} was stored before but its evaluation did not finish "
                     "(its process stopped, or the evaluation failed): evaluated now"]
            done = ratings
        case _:
            done = ratings
    if echo and isinstance(result, LandedEvaluated | LandedPending | Duplicate):  # queries accepted up front
        notes = [f"{line} (confirmed)" for line in result.queries] + notes
    for line in notes:
        say(line, stderr=True)
    if as_json:
        print(json.dumps(data))
    elif done is not None:
        r = data["return"]
        say(f"{label}: {r['status']} return {r['id']} ({r['kind']}, {r['provider']}, "
            f"{', '.join(r['periods'])}): {done}")
        for t in data["transitions"]:
            say(f"  {t['kind']:<11} {t['rule']} {shown(t['subject'])} {t['from'] or '-'} -> {t['to']} "
                f"({t['period']})")


@returns_app.command("pending")
def returns_pending(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Returns stored but awaiting evaluation (ingest the same file again to evaluate one), and
    returns held with queries (status held), each query listed under the table."""
    from alerts.store.db import session_for
    from alerts.store.landing import pending_returns
    from alerts.usecases.intake_json import pending_json
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        rows = [pending_json(r) for r in pending_returns(session)]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        say("no returns awaiting evaluation")
        return
    print_table(("id", "provider", "kind", "periods", "status", "file", "received"),
                [(str(r["id"]), r["provider"], r["kind"], ", ".join(r["periods"]),
                  cell(r["status"], "yellow" if r["status"] == "held" else ""), r["file"],
                  r["received_at"] or "") for r in rows])
    for r in rows:
        if r["queries"]:
            say(f"return {r['id']} is held until confirmed (kpi-alerts returns confirm {r['id']} --by NAME) or "
                "corrected:")
            for line in r["queries"]:
                say(f"  {shown(line)}")


@returns_app.command("confirm")
def returns_confirm(
    return_id: Annotated[int, typer.Argument(help="The held return's id (returns pending lists them)")],
    by: Annotated[str, typer.Option("--by", help="Who confirms its figures (recorded with it)")],
    note: Annotated[str | None, typer.Option("--note", help="Why they are right (recorded with it)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="`ingest --json`'s object on stdout")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a worker's evaluation (broker mode)")] = 60.0,
) -> None:
    """Confirm a held return's figures: it is released and evaluated as if just landed, and what
    it says goes out as usual. Exit 1 if it is not held (confirmed, released or corrected
    already), 2 if there is no such return."""
    from alerts.steps import dispatcher_for
    from alerts.usecases.holds import NotHeld
    from alerts.usecases.intake import Intake
    from config import get_settings

    settings = get_settings()
    intake = Intake(settings, dispatcher_for(settings).evaluate, load_catalog_or_exit())
    who = by.strip()
    if not who:
        raise fail("--by: expected the name of who confirms it")
    try:
        result = intake.confirm(return_id, who, note, wait=wait)
    except NotHeld as exc:
        raise fail(str(exc), 1) from None
    except LookupError as exc:
        raise fail(str(exc)) from None
    if not as_json:
        say(f"return {return_id} confirmed by {shown(who)}")
    _report(result.file, result, intake, as_json, wait)
    if _failed(result):
        raise typer.Exit(1)


@returns_app.command("release")
def returns_release() -> None:
    """What beat's holds step does (run it from cron without a broker): release, unconfirmed, every
    return held KPI_ALERTS_QUERY_HOLD_HOURS (evaluated; its messages say "not confirmed by the
    sender"), and email the performance team about held returns it has not heard of."""
    from alerts.steps import dispatcher_for, holds
    from config import get_settings

    settings = get_settings()
    load_catalog_or_exit()
    done = holds(settings, dispatcher_for(settings))
    released, told = done["released"], done["told"]
    say(f"released {len(released)} held return(s) unconfirmed{': ' if released else ''}"
        f"{', '.join(map(str, released))}; told the performance team of {len(told)}"
        f"{': ' if told else ''}{', '.join(map(str, told))}")


@returns_app.command("calendar")
def returns_calendar(
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The day to read it on, YYYY-MM-DD (default: today)")
                     ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Expected returns: one row per provider, kind and period, with its due day and status
    (not_due, submitted, late, missing) as of a day (local time)."""
    import datetime as dt

    from alerts.store.db import session_for
    from alerts.store.expected import landed
    from alerts.store.models import utcnow
    from config import get_settings
    from rules.calendar import calendar, local_day

    settings = get_settings()
    try:
        day = dt.date.fromisoformat(as_of) if as_of else local_day(utcnow(), settings.timezone)
    except ValueError:
        raise fail(f"--as-of: expected a date as YYYY-MM-DD, got {as_of!r}") from None
    catalog = load_catalog_or_exit()
    with session_for(settings.database_url) as session:
        held = landed(session, provider)
    rows = calendar(catalog, held, day, settings.timezone, providers=[provider] if provider else None)
    data = [{"provider": r.provider, "kind": r.kind, "period": r.period, "due": r.due.isoformat(),
             "missing_after": r.missing_after.isoformat(), "status": r.status,
             "landed_at": r.landed_at.isoformat() if r.landed_at else None} for r in rows]
    if as_json:
        print(json.dumps(data))
        return
    if not data:
        say(f"no returns expected as of {day.isoformat()}")
        return
    style = {"missing": "red", "late": "yellow", "submitted": "green", "not_due": "dim"}
    print_table(("provider", "kind", "period", "due", "status", "landed_at"),
                [(r["provider"], r["kind"], r["period"], r["due"], cell(r["status"], style[r["status"]]),
                  r["landed_at"] or "") for r in data])


@app.command()
def status(
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Current rating per (rule, subject): period, value, since when."""
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
    print_table(("rule", "code", "subject", "period", "value", "rating", "alert", "since", "alert id"),
                [(r["rule"], r["code"] or "", r["subject"], r["period"], f"{r['value']:g}",
                  cell(r["rating"] or "unrated", RATING_STYLE.get(r["rating"], "")), r["alert"] or "",
                  r["since"] or "", str(r["alert_id"] or "")) for r in rows])


@app.command()
def history(
    indicator: Annotated[str, typer.Argument(help="Indicator key, rule id or contract code (e.g. PI1)")],
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The rated series of one indicator."""
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
    print_table(("period", "code", "rule", "subject", "value", "rating", "bands"),
                [(r["period"], r["code"] or "", r["rule"], r["subject"], f"{r['value']:g}",
                  cell(r["rating"] or "unrated", RATING_STYLE.get(r["rating"], "")),
                  "; ".join(f"{k} {v}" for k, v in point.thresholds.items() if v != ""))
                 for r, point in zip(rows, series, strict=True)])
