"""Who hears about what: `subscribe`, `subscriptions [apply | revoke-links]`, `unsubscribe`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alerts.cli.common import fail, load_catalog_or_exit, print_table, say

if TYPE_CHECKING:
    from alerts.usecases.subscriptions import Suppressed

app = typer.Typer()
listing_app = typer.Typer(help="List subscriptions, apply a subscriptions file, revoke unsubscribe links.",
                          invoke_without_command=True)
app.add_typer(listing_app, name="subscriptions")


@app.command()
def subscribe(
    name: Annotated[str, typer.Argument(help="Subscriber name (one subscriber, many subscriptions)")],
    email: Annotated[str | None, typer.Option(help="Email address")] = None,
    teams: Annotated[str | None, typer.Option(help="Teams Workflows URL (Apprise workflows://...)")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="Indicator key, rule id or code; repeatable")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Theme tag, e.g. finance; repeatable")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="Provider; repeatable")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Team; repeatable")] = None,
    transition: Annotated[list[str] | None, typer.Option(
        help="opened, escalated, deescalated, resolved, reminder, corrected; repeatable (default all)")] = None,
    min_severity: Annotated[str, typer.Option(help="amber or red")] = "amber",
    delivery: Annotated[str, typer.Option(help="immediate, digest or both")] = "immediate",
    empty_digest: Annotated[bool, typer.Option("--empty-digest/--no-empty-digest",
                                               help="Send a short 'all steady' digest in a quiet week")] = True,
    digest_cadence: Annotated[str | None, typer.Option(help="weekly, or monthly: the first digest day of each "
                                                            "month (default: the subscriber's, weekly when new)")
                              ] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help="Allow a provider or team no stored "
                                                "return has named yet")] = False,
) -> None:
    """Subscribe NAME to the indicators they care about, at the severity they care about."""
    from pydantic import ValidationError

    from alerts.store.db import session_for
    from alerts.usecases.subscriptions import SubscriberSpec, SubscriptionError, SubscriptionSpec, Suppressed
    from alerts.usecases.subscriptions import subscribe as add
    from config import get_settings

    catalog = load_catalog_or_exit()
    try:
        spec = SubscriptionSpec(indicators=indicator or [], tags=tag or [], providers=provider or [],
                                teams=team or [], transitions=transition or [], min_severity=min_severity,
                                delivery=delivery)  # type: ignore[arg-type]
        SubscriberSpec(name=name, email=email, teams=teams, subscriptions=[spec],
                       **({"digest_cadence": digest_cadence} if digest_cadence is not None else {}))
        with session_for(get_settings().database_url) as session:
            sid = add(session, catalog, name, email, teams, spec, empty_digest, allow_unknown=allow_unknown,
                      digest_cadence=digest_cadence)
    except ValidationError as exc:
        raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    except Suppressed as exc:  # the person's own choice, not an error: reported, nothing added (exit 0)
        say(suppressed_line(exc))
        return
    except SubscriptionError as exc:
        raise fail(str(exc)) from None
    say(f"subscription {sid} for {name}")


def suppressed_line(exc: Suppressed) -> str:
    """`suppressed: NAME (unsubscribed on DATE by one-click; ...)`, the date in local time."""
    from zoneinfo import ZoneInfo

    from config import get_settings

    day = exc.since.astimezone(ZoneInfo(get_settings().timezone)).date()
    return (f"suppressed: {exc.name} (unsubscribed on {day.isoformat()} by one-click; "
            "they can follow again in the web app)")


@app.command()
def unsubscribe(subscription_id: Annotated[int, typer.Argument(help="Subscription id")]) -> None:
    """Remove one subscription."""
    from alerts.store.db import session_for
    from alerts.usecases.subscriptions import unsubscribe as remove
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        if not remove(session, subscription_id):
            raise fail(f"no subscription with id {subscription_id}")
    say(f"subscription {subscription_id} removed")


@listing_app.callback()
def subscriptions(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List subscriptions (Teams URLs shown in privacy form)."""
    if ctx.invoked_subcommand:
        return
    from alerts.cli.json_output import subscription_json
    from alerts.store.db import session_for
    from alerts.store.subscriptions import listing
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        rows = [subscription_json(s, w) for s, w in listing(session)]
    if as_json:
        print(json.dumps(rows))
        return
    print_table(("id", "subscriber id", "subscriber", "email", "teams", "indicators", "tags", "providers",
                 "teams filter", "min", "delivery", "digest"),
                [(r["id"], r["subscriber_id"], r["subscriber"], r["email"] or "", r["teams"] or "",
                  ", ".join(r["indicators"]) or "any", ", ".join(r["tags"]) or "any",
                  ", ".join(r["providers"]) or "any", ", ".join(r["teams_filter"]) or "any",
                  r["min_severity"], r["delivery"], r["digest_cadence"] if r["delivery"] != "immediate" else "-")
                 for r in rows])


@listing_app.command("apply")
def subscriptions_apply(path: Annotated[Path, typer.Argument(help="subscriptions YAML file")]) -> None:
    """Make the stored subscriptions equal to FILE (idempotent)."""
    from alerts.store.db import session_for
    from alerts.usecases.subscriptions import SubscriptionError, apply
    from config import get_settings

    catalog = load_catalog_or_exit()
    try:
        with session_for(get_settings().database_url) as session:
            report = apply(session, catalog, path)
    except SubscriptionError as exc:
        raise fail(str(exc)) from None
    removed = f"; subscribers removed: {', '.join(report.subscribers_removed)}" if report.subscribers_removed else ""
    say(f"{report.added} added, {report.removed} removed, {report.unchanged} unchanged{removed}")
    for held in report.suppressed:
        say(suppressed_line(held))


@listing_app.command("revoke-links")
def revoke_links(name: Annotated[str, typer.Argument(help="Subscriber name")]) -> None:
    """Revoke every unsubscribe link sent to NAME so far (a forwarded email, a leaked link);
    the next email carries a new one."""
    from alerts.store.db import session_for
    from alerts.usecases.subscriptions import revoke_links as revoke
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        if not revoke(session, name):
            raise fail(f"no subscriber called {name!r} (kpi-alerts subscriptions)")
    say(f"unsubscribe links of {name} revoked: those in emails sent so far no longer work; the next email "
        "carries a new one")
