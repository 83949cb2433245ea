"""API tokens: `tokens create NAME`, `tokens list`, `tokens revoke NAME`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from alerts.cli.common import fail, print_table, say

app = typer.Typer(help="Bearer tokens for POST /api/returns and the JSON API (only a hash is stored).",
                  no_args_is_help=True)


@app.command("create")
def create(name: Annotated[str, typer.Argument(help="Who the token is for, e.g. sandwell-performance")],
           scope: Annotated[str, typer.Option(help="upload: POST /api/returns only; read: the JSON API's GET "
                                                   "calls; manage: all the performance role may do by API")]
           = "upload") -> None:
    """Make a token and print it once on stdout: it cannot be shown again."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.tokens import TokenError
    from alerts.usecases.tokens import create as make
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        try:
            token = make(session, name, utcnow(), scope)
        except TokenError as exc:
            raise fail(str(exc)) from None
    print(token)
    say(f"token {name!r} ({scope}) created; it is shown only now: send it as 'Authorization: Bearer TOKEN'",
        stderr=True)


@app.command("list")
def list_tokens(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token: name, scope, created, last used, revoked (never the token)."""
    from alerts.store.db import session_for
    from alerts.usecases.tokens import listing
    from config import get_settings

    def when(t: object) -> str | None:
        return t.isoformat(timespec="seconds") if t is not None else None  # type: ignore[attr-defined]

    with session_for(get_settings().database_url) as session:
        rows = [{"id": t.id, "name": t.name, "scope": t.scope, "created": when(t.created_at),
                 "last_used": when(t.last_used_at), "revoked": when(t.revoked_at)} for t in listing(session)]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        say("no API tokens (kpi-alerts tokens create NAME)")
        return
    print_table(("name", "scope", "created", "last used", "revoked"),
                [(r["name"], r["scope"], r["created"], r["last_used"] or "never", r["revoked"] or "-") for r in rows])


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name")]) -> None:
    """Revoke a token at once: uploads with it get 401 from now on."""
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.tokens import revoke as drop
    from config import get_settings

    with session_for(get_settings().database_url) as session:
        if not drop(session, name, utcnow()):
            raise fail(f"no live token called {name!r} (kpi-alerts tokens list)")
    say(f"token {name!r} revoked")
