"""The API in-process: `create_app(settings)` behind Starlette's TestClient (httpx2), on the
test's own SQLite file, with a live token (scope manage: the tests' scripts do everything)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from config import Settings


@dataclass
class Api:
    client: TestClient
    settings: Settings
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def upload(self, name: str, data: bytes, token: str | None = None, **params: object):  # noqa: ANN201
        headers = {"Authorization": f"Bearer {token}"} if token is not None else self.auth
        return self.client.post("/api/returns", files={"file": (name, data)}, headers=headers, params=params)


def new_token(settings: Settings, name: str, scope: str = "manage") -> str:
    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.usecases.tokens import create

    with session_for(settings.database_url) as session:
        return create(session, name, utcnow(), scope)


@pytest.fixture
def make_api(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Api]]:
    """make_api(**settings fields): a fresh app on its own database (make_settings), with a token."""
    from alerts.api import create_app
    from alerts.store.schema import upgrade_url

    clients: list[TestClient] = []

    def make(db: str = "api.db", **fields: object) -> Api:
        settings = make_settings(db, **fields)
        upgrade_url(settings.database_url)  # as `kpi-alerts db upgrade` does before a server starts
        client = TestClient(create_app(settings), raise_server_exceptions=True)
        clients.append(client)
        return Api(client, settings, new_token(settings, f"test-{len(clients)}"))

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def web(make_api: Callable[..., Api]) -> Api:
    """The app with signed links to an https base URL (the web app's tests)."""
    return make_api(base_url="https://kpi.example.org")
