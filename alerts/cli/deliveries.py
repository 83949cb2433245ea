"""The delivery log: list, re-queue a failed or unknown delivery, send what is due."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from alerts.cli.common import fail, print_table, say

app = typer.Typer(help="The delivery log: list, re-queue, send what is due.", invoke_without_command=True)


@app.callback()
def deliveries(ctx: typer.Context, failed: Annotated[bool, typer.Option("--failed", help="Only failed or "
                                                                        "unknown-outcome deliveries")] = False,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The delivery log."""
    if ctx.invoked_subcommand:
        return
    from alerts.cli.json_output import delivery_json
    from alerts.store.db import session_for
    from alerts.store.deliveries import delivery_log
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        rows = [delivery_json(d, name) for d, name in delivery_log(session, failed_only=failed)]
    if as_json:
        print(json.dumps(rows))
        return
    print_table(("id", "subscriber", "channel", "status", "attempts", "subject", "last error"),
                [(r["id"], r["subscriber"], r["channel"], r["status"], r["attempts"], r["subject"],
                  r["last_error"] or "") for r in rows])


@app.command("retry")
def deliveries_retry(delivery_id: Annotated[int, typer.Argument(help="Delivery id")]) -> None:
    """Re-queue a failed or unknown-outcome delivery."""
    from alerts.steps import dispatcher_for
    from alerts.store.db import session_for
    from alerts.store.deliveries import requeue
    from alerts.store.models import utcnow
    from config import get_settings

    settings = get_settings()
    with session_for(settings.database_url) as session:
        if not requeue(session, delivery_id, utcnow()):
            raise fail(f"delivery {delivery_id} is not failed or unknown (or does not exist)")
    dispatcher_for(settings).deliver([delivery_id])
    say(f"delivery {delivery_id} re-queued")


@app.command("flush")
def deliveries_flush() -> None:
    """Send every delivery that is due now (what the periodic sweep does)."""
    from alerts.steps import dispatcher_for, sweep
    from config import get_settings

    settings = get_settings()
    say(f"{sweep(settings, dispatcher_for(settings))} due deliveries handed to the deliver task")
