"""Weekly digests: `digest preview` and `digest send`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alerts.cli.common import fail, load_catalog_or_exit, say, shown

app = typer.Typer(help="Weekly digests: preview or send.", no_args_is_help=True)


@app.command("preview")
def digest_preview(
    subscriber: Annotated[int, typer.Option("--subscriber", help="Subscriber id")],
    out_path: Annotated[Path, typer.Option("--out", help="Write the HTML here")],
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W12 (default: this week)")] = None,
) -> None:
    """Render one subscriber's digest without sending it."""
    from alerts.digest.render import render_digest
    from alerts.digest.run import compose_for
    from alerts.digest.weeks import is_monthly_week, next_monthly_week, week_of
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from config import get_settings

    settings = get_settings()
    now = utcnow()
    week = week or week_of(now, settings.timezone)
    catalog = load_catalog_or_exit()
    try:
        with session_for(settings.database_url) as session:
            _who, model = compose_for(session, catalog, settings.timezone, week, subscriber, now,
                                      settings.digest_max_rows, settings.digest_weekday)
    except (LookupError, ValueError) as exc:
        raise fail(str(exc.args[0])) from None
    subject, html, text = render_digest(model, settings.base_url)
    out_path.write_text(html, encoding="utf-8")
    text_path = out_path.with_suffix(".txt")  # the plain-text part, beside it
    text_path.write_text(text, encoding="utf-8")
    note = ""
    if model.monthly and not is_monthly_week(week, settings.digest_weekday):
        note = (f"\n(a monthly subscriber: no digest goes out in {week}; the next is "
                f"{next_monthly_week(week, settings.digest_weekday)})")
    say(f"{subject}\nwritten to {out_path} (plain-text part: {text_path}){note}")


@app.command("send")
def digest_send(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W12 (default: this week)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compose and count, send nothing, record nothing")] = False,
) -> None:
    """Send this week's digests now (each subscriber at most once per week)."""
    from alerts.digest.run import compose_week
    from alerts.digest.weeks import next_monthly_week, parse_week, week_of
    from alerts.steps import digest_week, dispatcher_for
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from config import get_settings

    settings = get_settings()
    now = utcnow()
    week = week or week_of(now, settings.timezone)
    try:
        parse_week(week)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if dry_run:
        catalog = load_catalog_or_exit()
        with session_for(settings.database_url) as session:
            digests = compose_week(session, catalog, week, settings.timezone, now, settings.digest_weekday)
        for sid, d in digests:
            if d is None:
                say(f"{sid}: monthly, not due in {week} (next: {next_monthly_week(week, settings.digest_weekday)})")
            else:
                say(f"{sid} {shown(d.subscriber)}: {shown(d.headline)}{' (all steady)' if d.steady else ''}")
        composed = sum(1 for _, d in digests if d is not None)
        say(f"dry run: {composed} digests for {week} composed, nothing sent")
        return
    result = digest_week(settings, dispatcher_for(settings), week)
    say(f"digests for {week}: {result if settings.eager else 'queued for the workers'}")
