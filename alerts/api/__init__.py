"""The HTTP API (`kpi-alerts serve`): FastAPI on uvicorn, one small module per route group.

- `returns`: `POST /api/returns`, a return uploaded with a bearer token, landed by the same
  ingest use case as the command line;
- `unsubscribe`: the RFC 8058 one-click endpoint every email links to;
- `health`: `GET /healthz`, the database and the broker;
- `metrics`: `GET /metrics`, Prometheus text from the app's own registry.

`create_app(settings)` (alerts/api/app.py) builds it; nothing here reads the environment.
"""

from __future__ import annotations

from alerts.api.app import create_app

__all__ = ["create_app"]
