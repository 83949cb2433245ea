"""`kpi-alerts`: the command line, one Typer app per file joined here. Exit 0 ok, 1 check
failures, 2 rejected input.

Complete on import (`typer.testing.CliRunner` reaches every command), and cheap to import:
each command imports what it needs when it runs, so `--help` and `rules check` start fast.
"""

from __future__ import annotations

import typer

from alerts.cli import acks, db, deliveries, demo, digest, inbox, returns, rules, serve, subscriptions, tokens, users

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Event-driven alerts on contract KPI returns.")
app.add_typer(returns.app)
app.add_typer(rules.app, name="rules")
app.add_typer(subscriptions.app)
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(acks.app)
app.add_typer(digest.app, name="digest")
app.add_typer(inbox.app, name="inbox")
app.add_typer(demo.app)
app.add_typer(serve.app)
app.add_typer(tokens.app, name="tokens")
app.add_typer(users.app, name="users")
app.add_typer(db.app, name="db")


@app.callback()
def _before_every_command() -> None:
    """Secrets are scrubbed from logs before any command can log the SMTP password
    (not run for the top-level `--help`, which logs nothing)."""
    from alerts.cli.common import install_redaction

    install_redaction()


def main() -> None:
    try:
        app()
    except Exception as exc:
        # alerts.store.schema.SchemaNotCurrent, matched by name so `--help` imports no database
        # code: a database behind the code is a message saying what to run, not a traceback
        if type(exc).__name__ != "SchemaNotCurrent":
            raise
        import sys

        print(f"kpi-alerts: {exc}", file=sys.stderr)
        raise SystemExit(78) from None
