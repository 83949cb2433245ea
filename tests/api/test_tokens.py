"""`kpi-alerts tokens create/list/revoke`, and what the API makes of them."""

from __future__ import annotations

import hashlib
import json
import logging

from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.store.db import session_for
from alerts.store.models import ApiToken
from tests.conftest import kpi_csv

BREACH = kpi_csv([("2024-10", "PI1", "60.1")])


def test_create_prints_the_token_once_and_stores_only_its_hash(cli, make_settings, tmp_path):
    made = cli("tokens", "create", "sandwell-performance")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) >= 43 and made.stdout == token + "\n"  # token_urlsafe(32), alone on stdout
    assert token not in made.stderr
    url = make_settings("cli.db").database_url  # the cli fixture's database
    with session_for(url) as s:
        row = s.execute(select(ApiToken)).scalar_one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    if url.startswith("sqlite"):  # the file holds no trace of the token
        assert token not in (tmp_path / "cli.db").read_bytes().decode("latin-1")
    second = cli("tokens", "create", "walsall").stdout.strip()
    assert second != token
    again = cli("tokens", "create", "sandwell-performance")
    assert again.returncode == 2 and "exists already" in again.stderr


def test_list_shows_name_created_last_used_revoked_and_never_the_token(cli, make_settings):
    token = cli("tokens", "create", "sandwell-performance").stdout.strip()
    cli("tokens", "create", "unused")
    from alerts.api import create_app

    settings = make_settings("cli.db")  # the cli fixture's database
    with TestClient(create_app(settings)) as client:
        res = client.post("/api/returns", files={"file": ("kpi.csv", BREACH)},
                          headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 201
    rows = json.loads(cli("tokens", "list", "--json").stdout)
    assert [(r["name"], r["last_used"] is not None, r["revoked"]) for r in rows] == [
        ("sandwell-performance", True, None), ("unused", False, None)]
    assert all(r["created"] for r in rows)
    table = cli("tokens", "list")
    assert table.returncode == 0 and "sandwell-performance" in table.stdout and "never" in table.stdout
    assert token not in table.stdout and token not in json.dumps(rows)


def test_a_revoked_token_is_refused_with_401_at_once(cli, make_settings):
    token = cli("tokens", "create", "leaver").stdout.strip()
    from alerts.api import create_app

    settings = make_settings("cli.db")
    client = TestClient(create_app(settings))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/returns", files={"file": ("a.csv", BREACH)}, headers=auth).status_code == 201
    revoked = cli("tokens", "revoke", "leaver")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    res = client.post("/api/returns", files={"file": ("b.csv", kpi_csv([("2024-11", "PI1", "61")]))}, headers=auth)
    assert res.status_code == 401 and 'error="invalid_token"' in res.headers["WWW-Authenticate"]
    rows = json.loads(cli("tokens", "list", "--json").stdout)
    assert rows[0]["revoked"] is not None
    assert cli("tokens", "revoke", "leaver").returncode == 2  # no live token of that name
    assert cli("tokens", "revoke", "nobody").returncode == 2
    assert cli("tokens", "create", "leaver").returncode == 2  # the name stays taken: the record of who landed what


def test_token_names_are_printable(cli):
    for name in ("", " padded", "a\x1b[31mb", "x" * 101):
        res = cli("tokens", "create", name)
        assert res.returncode == 2, name


def test_tokens_never_reach_the_log(api, caplog):
    with caplog.at_level(logging.DEBUG):
        assert api.upload("kpi.csv", BREACH).status_code == 201
        assert api.upload("kpi.csv", BREACH, token=api.token + "x").status_code == 401
    assert api.token not in caplog.text
