"""`kpi-alerts tokens create/list/revoke`, and what the API makes of them."""

from __future__ import annotations

import hashlib
import json
import logging

from fastapi import HTTPException
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


def test_a_token_does_only_what_its_scope_allows(make_api):
    """Issue 18: an upload token (the default) lands returns and nothing else; read may GET the
    JSON API; manage may do all the performance role may. Out of scope: 403 naming the scope."""
    from tests.api.conftest import new_token

    api = make_api()
    upload, read, manage = (new_token(api.settings, n, scope=s) for n, s in
                            (("provider", "upload"), ("dashboard", "read"), ("team", "manage")))

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert api.upload("kpi.csv", BREACH, token=upload).status_code == 201
    for path in ("/api/subscriptions", "/api/alerts", "/api/status", "/api/returns"):
        res = api.client.get(path, headers=bearer(upload))
        assert res.status_code == 403 and "read scope" in res.json()["detail"], path
        assert api.client.get(path, headers=bearer(read)).status_code == 200, path
        assert api.client.get(path, headers=bearer(manage)).status_code == 200, path
    alert = api.client.get("/api/alerts", headers=bearer(read)).json()["alerts"][0]["id"]
    for token in (upload, read):
        res = api.client.delete("/api/subscriptions/1", params={"subscriber": 1}, headers=bearer(token))
        assert res.status_code == 403 and "manage scope" in res.json()["detail"]
        res = api.client.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}, headers=bearer(token))
        assert res.status_code == 403 and "manage scope" in res.json()["detail"]
    res = api.upload("b.csv", kpi_csv([("2024-11", "PI1", "61")]), token=read)
    assert res.status_code == 403 and "upload scope" in res.json()["detail"]
    assert api.client.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}, headers=bearer(manage)).status_code == 200
    assert api.upload("c.csv", kpi_csv([("2024-12", "PI1", "62")]), token=manage).status_code == 201


def test_tokens_create_takes_a_scope_and_list_shows_it(cli):
    assert cli("tokens", "create", "provider").returncode == 0
    assert cli("tokens", "create", "dash", "--scope", "read").returncode == 0
    assert cli("tokens", "create", "team", "--scope", "manage").returncode == 0
    assert cli("tokens", "create", "bad", "--scope", "admin").returncode == 2
    rows = json.loads(cli("tokens", "list", "--json").stdout)
    assert [(r["name"], r["scope"]) for r in rows] == [("provider", "upload"), ("dash", "read"), ("team", "manage")]
    assert "scope" in cli("tokens", "list").stdout


def test_tokens_made_before_scopes_keep_their_power_and_list_as_manage(make_settings):
    """A token row written without a scope (as before migration 0006) is manage."""
    from sqlalchemy import text

    from alerts.api import create_app
    from alerts.store.models import utcnow
    from alerts.store.schema import upgrade_url

    settings = make_settings("old.db")
    upgrade_url(settings.database_url)
    token = "an-old-token-made-before-scopes-existed-0123456789"
    with session_for(settings.database_url) as s:
        s.connection().execute(text("INSERT INTO api_tokens (name, token_sha256, created_at) VALUES (:n, :d, :at)"),
                               {"n": "old", "d": hashlib.sha256(token.encode()).hexdigest(), "at": utcnow()})
        s.commit()
    from alerts.usecases.tokens import listing
    with session_for(settings.database_url) as s:
        assert [t.scope for t in listing(s)] == ["manage"]
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/subscriptions", headers=auth).status_code == 200
        assert client.post("/api/returns", files={"file": ("kpi.csv", BREACH)}, headers=auth).status_code == 201


def test_guessing_tokens_is_slowed_per_client_with_429_and_retry_after(make_api):
    """Issue 18: 100 wrong tokens in a burst are all answered; past the failures allowed per
    client and minute they get 429 with Retry-After; a right token from another client works."""
    api = make_api(auth_failures_per_minute=10)
    codes = []
    for i in range(100):
        res = api.client.get("/api/alerts", headers={"Authorization": f"Bearer wrong-{i}"})
        codes.append(res.status_code)
        if res.status_code == 429:
            assert 1 <= int(res.headers["Retry-After"]) <= 60
    assert codes == [401] * 10 + [429] * 90
    res = api.upload("kpi.csv", BREACH, token="wrong")  # the upload door counts the same failures
    assert res.status_code == 429 and "Retry-After" in res.headers
    other = TestClient(api.client.app, client=("192.0.2.7", 50001))
    assert other.get("/api/alerts", headers=api.auth).status_code == 200
    assert other.post("/api/returns", files={"file": ("kpi.csv", BREACH)}, headers=api.auth).status_code == 201


def test_with_a_redis_broker_every_api_process_shares_the_failure_count(make_settings, tmp_path):
    """The count lives in Redis when the broker is Redis: failures at one API process slow the
    same client at another."""
    from alerts.api.guessing import FailureLimiter
    from tests.e2e.services import RedisServer

    redis = RedisServer(tmp_path)
    try:
        one, other = (FailureLimiter(make_settings("r.db", broker_url=redis.url, auth_failures_per_minute=3))
                      for _ in range(2))
        assert one.where == "redis"
        for _ in range(3):
            one.check("198.51.100.9")
            one.failed("198.51.100.9")
        try:
            other.check("198.51.100.9")
            raise AssertionError("the other process let a client past its failures")
        except HTTPException as exc:
            assert exc.status_code == 429 and int(exc.headers["Retry-After"]) >= 1
        other.check("198.51.100.10")  # another client: untouched
    finally:
        redis.stop()
