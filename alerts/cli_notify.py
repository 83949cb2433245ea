"""CLI for notifications: subscribe, subscriptions, unsubscribe, deliveries, ack, snooze."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from alerts.store.db import session_for
from config import get_settings

out = Console()
err = Console(stderr=True)
subscriptions_app = typer.Typer(help="List subscriptions, or apply a subscriptions file.", invoke_without_command=True)
deliveries_app = typer.Typer(help="The delivery log: list, re-queue, send what is due.", invoke_without_command=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def subscribe(
    name: Annotated[str, typer.Argument(help="Subscriber name (one subscriber, many subscriptions)")],
    email: Annotated[str | None, typer.Option(help="Email address")] = None,
    teams: Annotated[str | None, typer.Option(help="Teams Workflows URL (Apprise workflows://...)")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="Indicator key, rule id or code; repeatable")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Theme tag, e.g. finance; repeatable")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="Provider; repeatable")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Team; repeatable")] = None,
    transition: Annotated[list[str] | None, typer.Option(help="opened, escalated, deescalated, resolved, "
                                                                 "reminder; repeatable (default all)")] = None,
    min_severity: Annotated[str, typer.Option(help="amber or red")] = "amber",
    delivery: Annotated[str, typer.Option(help="immediate, digest or both")] = "immediate",
    empty_digest: Annotated[bool, typer.Option("--empty-digest/--no-empty-digest",
                                               help="Send a short 'all steady' digest in a quiet week")] = True,
) -> None:
    """Subscribe NAME to the indicators they care about, at the severity they care about."""
    from pydantic import ValidationError

    from alerts.cli import _catalog
    from alerts.subscriptions import SubscriberSpec, SubscriptionError, SubscriptionSpec
    from alerts.subscriptions import subscribe as add

    try:
        spec = SubscriptionSpec(indicators=indicator or [], tags=tag or [], providers=provider or [],
                                teams=team or [], transitions=transition or [], min_severity=min_severity,
                                delivery=delivery)  # type: ignore[arg-type]
        SubscriberSpec(name=name, email=email, teams=teams, subscriptions=[spec])
        with session_for(get_settings().database_url) as session:
            sid = add(session, _catalog(), name, email, teams, spec, empty_digest)
    except ValidationError as exc:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    except SubscriptionError as exc:
        raise _fail(str(exc)) from None
    out.print(f"subscription {sid} for {name}", markup=False)


def unsubscribe(subscription_id: Annotated[int, typer.Argument(help="Subscription id")]) -> None:
    """Remove one subscription."""
    from alerts.subscriptions import unsubscribe as remove

    with session_for(get_settings().database_url) as session:
        if not remove(session, subscription_id):
            raise _fail(f"no subscription with id {subscription_id}")
    out.print(f"subscription {subscription_id} removed", markup=False)


@subscriptions_app.callback()
def subscriptions(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List subscriptions (Teams URLs shown in privacy form)."""
    if ctx.invoked_subcommand:
        return
    from alerts.subscriptions import listing

    with session_for(get_settings().database_url) as session:
        rows = listing(session)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "subscriber", "email", "teams", "indicators", "tags", "providers", "teams filter",
                  "min", "delivery")
    for r in rows:
        table.add_row(str(r["id"]), r["subscriber"], r["email"] or "", r["teams"] or "",
                      ", ".join(r["indicators"]) or "any", ", ".join(r["tags"]) or "any",
                      ", ".join(r["providers"]) or "any", ", ".join(r["teams_filter"]) or "any",
                      r["min_severity"], r["delivery"])
    out.print(table)


@subscriptions_app.command("apply")
def subscriptions_apply(path: Annotated[Path, typer.Argument(help="subscriptions YAML file")]) -> None:
    """Make the stored subscriptions equal to FILE (idempotent)."""
    from alerts.cli import _catalog
    from alerts.subscriptions import SubscriptionError, apply

    try:
        with session_for(get_settings().database_url) as session:
            report = apply(session, _catalog(), path)
    except SubscriptionError as exc:
        raise _fail(str(exc)) from None
    out.print(f"{report.added} added, {report.removed} removed, {report.unchanged} unchanged"
              + (f"; subscribers removed: {', '.join(report.subscribers_removed)}" if report.subscribers_removed
                 else ""), markup=False)


@deliveries_app.callback()
def deliveries(ctx: typer.Context, failed: Annotated[bool, typer.Option("--failed", help="Only failed or "
                                                                        "unknown-outcome deliveries")] = False,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The delivery log."""
    if ctx.invoked_subcommand:
        return
    from alerts.store.models import Delivery, Subscriber

    q = select(Delivery, Subscriber.name).join(Subscriber).order_by(Delivery.id)
    if failed:
        q = q.where(Delivery.status.in_(("failed", "unknown")))  # type: ignore[attr-defined]
    with session_for(get_settings().database_url) as session:
        rows = [{"id": d.id, "key": d.key, "subscriber": name, "channel": d.channel, "subject": d.subject,
                 "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
                 "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None}
                for d, name in session.execute(q).all()]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "subscriber", "channel", "status", "attempts", "subject", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["subscriber"], r["channel"], r["status"], str(r["attempts"]), r["subject"],
                      r["last_error"] or "")
    out.print(table)


@deliveries_app.command("retry")
def deliveries_retry(delivery_id: Annotated[int, typer.Argument(help="Delivery id")]) -> None:
    """Re-queue a failed or unknown-outcome delivery."""
    from alerts.notify.deliver import requeue
    from alerts.store.models import utcnow
    from workers.tasks import send_deliveries

    with session_for(get_settings().database_url) as session:
        if not requeue(session, delivery_id, utcnow()):
            raise _fail(f"delivery {delivery_id} is not failed or unknown (or does not exist)")
    send_deliveries([delivery_id])
    out.print(f"delivery {delivery_id} re-queued", markup=False)


@deliveries_app.command("flush")
def deliveries_flush() -> None:
    """Send every delivery that is due now (what the periodic sweep does)."""
    from workers.tasks import sweep_deliveries_task

    out.print(f"{sweep_deliveries_task.apply().get()} due deliveries handed to the deliver task", markup=False)


def ack(alert_id: Annotated[int, typer.Argument(help="Alert id (kpi-alerts status --json shows it)")],
        by: Annotated[str, typer.Option("--by", help="Who acknowledges")],
        note: Annotated[str | None, typer.Option(help="Commentary kept beside the alert")] = None) -> None:
    """Acknowledge an alert; the note is kept in its history."""
    from alerts.store.models import utcnow
    from alerts.usecases.acks import acknowledge

    with session_for(get_settings().database_url) as session:
        try:
            alert = acknowledge(session, alert_id, by, note, utcnow())
        except LookupError as exc:
            raise _fail(str(exc.args[0])) from None
    out.print(f"alert {alert_id} ({alert.rule_id} {alert.subject}) acknowledged by {by}", markup=False)


def snooze(rule: Annotated[str, typer.Argument(help="Rule id, indicator key or contract code")],
           until: Annotated[str, typer.Option(help="YYYY-MM-DD: silenced until that day starts (local time)")],
           subject: Annotated[str | None, typer.Option(help="Only this subject")] = None,
           by: Annotated[str | None, typer.Option(help="Who snoozes")] = None) -> None:
    """Silence notifications (not ratings) for a rule until a date; expires by itself."""
    from alerts.cli import _catalog
    from alerts.store.models import utcnow
    from alerts.usecases.acks import local_day_start
    from alerts.usecases.acks import snooze as add_snooze

    settings = get_settings()
    try:
        day = dt.date.fromisoformat(until)
    except ValueError:
        raise _fail(f"--until: expected a date as YYYY-MM-DD, got {until!r}") from None
    with session_for(settings.database_url) as session:
        try:
            rules = add_snooze(session, _catalog(), rule, local_day_start(day, settings.timezone), utcnow(),
                               subject, by)
        except (LookupError, ValueError) as exc:
            raise _fail(str(exc.args[0])) from None
    out.print(f"snoozed {', '.join(rules)}{' for ' + subject if subject else ''} until {day}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(subscribe)
    app.command()(unsubscribe)
    app.add_typer(subscriptions_app, name="subscriptions")
    app.add_typer(deliveries_app, name="deliveries")
    app.command()(ack)
    app.command()(snooze)
    app.add_typer(digest_app, name="digest")


digest_app = typer.Typer(help="Weekly digests: preview or send.", no_args_is_help=True)


@digest_app.command("preview")
def digest_preview(
    subscriber: Annotated[int, typer.Option("--subscriber", help="Subscriber id")],
    out_path: Annotated[Path, typer.Option("--out", help="Write the HTML here")],
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W12 (default: this week)")] = None,
) -> None:
    """Render one subscriber's digest without sending it."""
    from alerts.cli import _catalog
    from alerts.digest.data import week_of
    from alerts.digest.render import render_digest
    from alerts.digest.run import compose_for
    from alerts.store.models import utcnow

    settings = get_settings()
    week = week or week_of(utcnow(), settings.timezone)
    try:
        with session_for(settings.database_url) as session:
            _who, model = compose_for(session, _catalog(), settings.timezone, week, subscriber, utcnow(),
                                      settings.digest_max_rows)
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc.args[0])) from None
    subject, html, text = render_digest(model, settings.base_url)
    out_path.write_text(html, encoding="utf-8")
    text_path = out_path.with_suffix(".txt")  # the plain-text part, beside it
    text_path.write_text(text, encoding="utf-8")
    out.print(f"{subject}\nwritten to {out_path} (plain-text part: {text_path})", markup=False, highlight=False)


@digest_app.command("send")
def digest_send(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W12 (default: this week)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compose and count, send nothing, record nothing")] = False,
) -> None:
    """Send this week's digests now (each subscriber at most once per week)."""
    from alerts.cli import _catalog
    from alerts.digest.compose import compose
    from alerts.digest.data import load_week, parse_week, week_of
    from alerts.digest.run import digest_audience
    from alerts.store.models import Subscriber, utcnow
    from workers.tasks import digest_week_task

    settings = get_settings()
    week = week or week_of(utcnow(), settings.timezone)
    try:
        parse_week(week)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if dry_run:
        with session_for(settings.database_url) as session:
            audience = digest_audience(session)
            data = load_week(session, _catalog(), week, settings.timezone, utcnow())
            for sid, routes in sorted(audience.items()):
                who = session.get(Subscriber, sid)
                d = compose(who.name if who else str(sid), routes, data, None)
                out.print(f"{sid} {d.subscriber}: {d.headline}{' (all steady)' if d.steady else ''}", markup=False)
        out.print(f"dry run: {len(audience)} digests for {week} composed, nothing sent", markup=False)
        return
    result = digest_week_task.apply(args=(week,)).get() if settings.eager else digest_week_task.delay(week)
    out.print(f"digests for {week}: {result if settings.eager else 'queued for the workers'}", markup=False)
