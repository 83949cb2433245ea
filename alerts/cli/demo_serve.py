"""`kpi-alerts demo --serve`: the example year in a local folder, a local admin signed in by a
printed link, and the web app, with every email written to the folder's mail/ (listed at /mail)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

ADMIN = "admin@example.org"


def fresh_folder(folder: Path) -> tuple[Path, Path]:
    """The folder's database and mail/, emptied: each run starts from nothing."""
    mail = folder / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    for old in [*mail.glob("*.eml"), *mail.glob(".tmp-*")]:
        old.unlink()
    db = folder / "kpi-alerts.db"
    for old in folder.glob("kpi-alerts.db*"):  # the database and its -wal/-shm
        old.unlink()
    return db, mail


def run(console: Console, files: list[Path], land: Callable[[Console, list[Path]], object], folder: Path,
        port: int) -> None:
    """`land`: demo.py's month-by-month ingest and report (passed in: demo.py imports this module)."""
    import yaml

    from alerts.cli.serve import serve
    from alerts.examples import SUBSCRIPTIONS
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.store.secrets import signing_key
    from alerts.usecases.signin import LOCAL_LINK_MINUTES, add_user, link_for_user, link_path
    from alerts.usecases.subscriptions import apply
    from config import Settings, get_settings, use_settings
    from rules.loader import load_catalog

    if not files:
        raise SystemExit("no example returns")
    folder = folder.resolve()
    db, mail = fresh_folder(folder)
    base = get_settings()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=f"sqlite:///{db}", broker_url="", rules_dir=base.rules_dir,
                        timezone=base.timezone, base_url=base_url, email_url="mailto://localhost",
                        email_from=base.email_from, mail_folder=str(mail))
    use_settings(settings)
    catalog = load_catalog(settings.rules_dir)
    # the example subscribers, so the year's alerts have readers; applied before any return has
    # named the provider: the folder's copy says allow_unknown
    subscriptions = folder / "subscriptions.yaml"
    subscriptions.write_text(yaml.safe_dump({**yaml.safe_load(SUBSCRIPTIONS.read_text(encoding="utf-8")),
                                             "allow_unknown": True}, sort_keys=False), encoding="utf-8")
    with session_for(settings.database_url) as session:
        apply(session, catalog, subscriptions)
    land(console, files)  # month by month, tasks (and emails) in-process
    with session_for(settings.database_url) as session:
        add_user(session, ADMIN, "admin", "Local admin", utcnow())
        found = link_for_user(session, ADMIN, utcnow(), minutes=LOCAL_LINK_MINUTES)
        path = link_path(signing_key(session, settings), found.nonce)
    count = len(list(mail.glob("*.eml")))
    console.print(f"\nDatabase: {db}\nMail folder: {mail} ({count} emails; also at {base_url}/mail)\n"
                  f"Sign in as {ADMIN} (admin), single use, for {LOCAL_LINK_MINUTES // 60} hours:\n"
                  f"  {base_url}{path}\nServing {base_url}/ until Ctrl-C.", highlight=False, markup=False,
                  soft_wrap=True)
    console.file.flush()
    serve(host="127.0.0.1", port=port)
