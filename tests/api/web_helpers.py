"""Helpers of the web app's tests: a signed-in person's client, the CSRF value of a page,
a form POST with it, alert events of a kind, a red alert to act on."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import add_user, request_link, sign_in
from alerts.web.security import session_signer
from tests.conftest import kpi_csv

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HOSTILE = "<script>alert(1)</script>"


def person(api, email: str, role: str = "viewer", name: str = "") -> TestClient:
    from alerts.store.secrets import signing_key

    with session_for(api.settings.database_url) as s:
        add_user(s, email, role, name, utcnow())
        link = request_link(s, email, f"test-{email}", utcnow())
        token, _ = sign_in(s, link.nonce, utcnow(), 1)
        key = signing_key(s, api.settings)
    client = TestClient(api.client.app, base_url="https://testserver")
    client.cookies.set("kpi_session", session_signer(key).sign(token).decode())
    return client


def csrf(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def post(client: TestClient, path: str, data: dict | None = None, page: str = "/", **kw):  # noqa: ANN201
    return client.post(path, data={**(data or {}), "csrf": csrf(client, page)}, follow_redirects=False, **kw)


def events(api, kind: str) -> list:
    from sqlalchemy import select

    from alerts.store.models import AlertEvent

    with session_for(api.settings.database_url) as s:
        return list(s.execute(select(AlertEvent).where(AlertEvent.kind == kind)).scalars())


def red_pi1(api, provider: str = "sandwell") -> int:
    """A red PI1 alert (its id) and a green PI2."""
    assert api.upload("k.csv", kpi_csv([("2024-10", "PI1", "60"), ("2024-10", "PI2", "95")], provider)).status_code \
        == 201
    found = person(api, f"reader-{provider}@example.org").get("/alerts").text
    return int(re.search(r'id="alert-(\d+)"', found).group(1))
