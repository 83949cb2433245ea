"""Acting on an alert: `ack` and `snooze`, both kept in the alert's history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from alerts.cli.common import fail, load_catalog_or_exit, say, shown

app = typer.Typer()


@app.command()
def ack(alert_id: Annotated[int, typer.Argument(help="Alert id (kpi-alerts status --json shows it)")],
        by: Annotated[str, typer.Option("--by", help="Who acknowledges")],
        note: Annotated[str | None, typer.Option(help="Commentary kept beside the alert")] = None) -> None:
    """Acknowledge an alert; the note is kept in its history."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.acks import acknowledge
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        try:
            alert = acknowledge(session, alert_id, by, note, utcnow())
        except LookupError as exc:
            raise fail(str(exc.args[0])) from None
    say(f"alert {alert_id} ({alert.rule_id} {shown(alert.subject)}) acknowledged by {shown(by)}")


@app.command()
def snooze(rule: Annotated[str, typer.Argument(help="Rule id, indicator key or contract code")],
           until: Annotated[str, typer.Option(help="YYYY-MM-DD: silenced until that day starts (local time)")],
           subject: Annotated[str | None, typer.Option(help="Only this subject")] = None,
           by: Annotated[str | None, typer.Option(help="Who snoozes")] = None) -> None:
    """Silence notifications (not ratings) for a rule until a date; expires by itself."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.acks import local_day_start
    from alerts.usecases.acks import snooze as add_snooze
    from config import get_settings

    settings = get_settings()
    try:
        day = dt.date.fromisoformat(until)
    except ValueError:
        raise fail(f"--until: expected a date as YYYY-MM-DD, got {until!r}") from None
    catalog = load_catalog_or_exit()
    with session_for(settings.database_url) as session:
        try:
            rules = add_snooze(session, catalog, rule, local_day_start(day, settings.timezone), utcnow(), subject, by)
        except (LookupError, ValueError) as exc:
            raise fail(str(exc.args[0])) from None
    say(f"snoozed {', '.join(rules)}{' for ' + shown(subject) if subject else ''} until {day}")
