"""The HTTP API (`kpi-alerts serve`): FastAPI on uvicorn, one small module per route group.

- `returns`: `POST /api/returns`, a return uploaded with a bearer token, landed by the same
  ingest use case as the command line;
- `unsubscribe`: the RFC 8058 one-click endpoint every email links to;
- `health`: `GET /healthz`, the database and the broker;
- `metrics`: `GET /metrics`, Prometheus text from the app's own registry;
- `leaders`: the web app's JSON API (status, indicator history, alerts, subscriptions, returns);
  the web pages themselves are alerts/web.

`create_app(settings)` (alerts/api/app.py) builds it; nothing here reads the environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """`create_app` on first use: the web modules import alerts.api.state without the whole app."""
    if name == "create_app":
        from alerts.api.app import create_app

        return create_app
    raise AttributeError(name)
