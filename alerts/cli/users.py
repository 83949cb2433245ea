"""Web app users: `users add EMAIL --role R [--name N]`, `users list`, `users link EMAIL` (the
first admin comes from here; admins manage the rest on the web page)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from alerts.cli.common import fail, print_table, say

app = typer.Typer(help="People who sign in to the web app, and their roles.", no_args_is_help=True)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="Their email address: sign-in links go there")],
    role: Annotated[str, typer.Option(help="viewer, performance or admin")] = "viewer",
    name: Annotated[str, typer.Option(help="Their name, as pages show it")] = "",
) -> None:
    """Add a user, or change the role of the one with that address."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.signin import add_user
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        try:
            _, new = add_user(session, email, role, name, utcnow())
        except ValueError as exc:
            raise fail(str(exc)) from None
    say(f"{'added' if new else 'updated'} {email.strip().lower()} as {role}")


@app.command("list")
def list_users(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user: address, name, role."""
    from alerts.store.db import session_for
    from alerts.store.web_users import list_users as listing
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        rows = [{"id": u.id, "email": u.email, "name": u.name, "role": u.role} for u in listing(session)]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        say("no users (kpi-alerts users add EMAIL --role admin)")
        return
    print_table(("email", "name", "role"), [(r["email"], r["name"], r["role"]) for r in rows])


@app.command("link")
def link(email: Annotated[str, typer.Argument(help="A user's address (kpi-alerts users add first)")]) -> None:
    """Print a single-use sign-in link for a user (15 minutes), for an install that cannot send
    email yet. It is a credential: give it to that person only."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.store.secrets import signing_key
    from alerts.usecases.signin import LINK_MINUTES, link_for_user, link_path
    from config import get_settings

    settings = get_settings()
    with session_for(settings.database_url) as session:
        try:
            found = link_for_user(session, email, utcnow())
        except LookupError as exc:
            raise fail(str(exc.args[0])) from None
        path = link_path(signing_key(session, settings), found.nonce)
    base = (settings.base_url or "http://127.0.0.1:8000").rstrip("/")
    print(base + path)
    say(f"single use, for {LINK_MINUTES} minutes; open it where `kpi-alerts serve` answers", stderr=True)
