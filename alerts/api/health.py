"""`GET /healthz`: 200 when the database (and the broker, when one is set) answer and beat's
scheduler ticks, else 503 naming which does not. For a load balancer or a compose healthcheck:
no authentication, no details beyond ok / unreachable / stale (the reasons go to the log).

The scheduler (broker mode): beat records a heartbeat each tick (workers/app.py); its last tick
older than two KPI_ALERTS_BEAT_INTERVAL_SECONDS is "stale" (nothing schedules the relay, the
delivery sweep, the digest: a silent stop). Without a broker there is no scheduler."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from alerts.api.broker import ping as ping_broker
from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.heartbeats import SCHEDULER, last
from alerts.store.models import utcnow
from alerts.store.monitoring import ping

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
STALE_AFTER_INTERVALS = 2


def scheduler_health(last_tick: dt.datetime | None, now: dt.datetime, interval_seconds: float) -> dict[str, Any]:
    """The scheduler's part of /healthz: its last tick, how old, and "ok" or "stale" (older than
    two intervals, or never ticked)."""
    if last_tick is None:
        return {"status": "stale", "last_tick": None, "age_seconds": None}
    age = max(0.0, (now - last_tick).total_seconds())
    return {"status": "stale" if age > STALE_AFTER_INTERVALS * interval_seconds else "ok",
            "last_tick": last_tick.isoformat(), "age_seconds": round(age, 1)}


@router.get("/healthz", summary="Database and broker reachable",
            responses={200: {"description": "Everything reachable",
                             "content": {"application/json": {"example": {"database": "ok", "broker": "ok"}}}},
                       503: {"description": "Something unreachable, named",
                             "content": {"application/json": {"example": {"database": "ok",
                                                                          "broker": "unreachable"}}}}})
def healthz(request: Request) -> JSONResponse:
    state = state_of(request)
    body: dict[str, Any] = {"database": "ok", "broker": "not configured", "scheduler": "not configured"}
    last_tick: dt.datetime | None = None
    try:
        with session_for(state.settings.database_url) as session:
            ping(session)
            if state.settings.broker_url:
                last_tick = last(session, SCHEDULER)
    except Exception as exc:
        log.warning("healthz: database unreachable (%s)", type(exc).__name__)
        body["database"] = "unreachable"
    if state.settings.broker_url and body["database"] == "ok":
        body["scheduler"] = scheduler_health(last_tick, utcnow(), state.settings.beat_interval_seconds)
    if state.settings.broker_url:
        if state.broker is None:
            body["broker"] = "not checked (only a Redis broker is)"
        else:
            try:
                ping_broker(state.broker)
                body["broker"] = "ok"
            except Exception as exc:
                log.warning("healthz: broker unreachable (%s)", type(exc).__name__)
                body["broker"] = "unreachable"
    healthy = (body["database"] == "ok" and body["broker"] != "unreachable"
               and (not isinstance(body["scheduler"], dict) or body["scheduler"]["status"] == "ok"))
    return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})
