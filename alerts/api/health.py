"""`GET /healthz`: 200 when the database (and the broker, when one is set) answer, else 503
naming which does not. For a load balancer or a compose healthcheck: no authentication, no
details beyond ok / unreachable (the reasons go to the log)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from alerts.api.broker import ping as ping_broker
from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.monitoring import ping

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Database and broker reachable",
            responses={200: {"description": "Everything reachable",
                             "content": {"application/json": {"example": {"database": "ok", "broker": "ok"}}}},
                       503: {"description": "Something unreachable, named",
                             "content": {"application/json": {"example": {"database": "ok",
                                                                          "broker": "unreachable"}}}}})
def healthz(request: Request) -> JSONResponse:
    state = state_of(request)
    body = {"database": "ok", "broker": "not configured"}
    try:
        with session_for(state.settings.database_url) as session:
            ping(session)
    except Exception as exc:
        log.warning("healthz: database unreachable (%s)", type(exc).__name__)
        body["database"] = "unreachable"
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
    healthy = all(v != "unreachable" for v in body.values())
    return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})
