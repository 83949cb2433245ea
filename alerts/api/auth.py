"""Bearer tokens (`kpi-alerts tokens create NAME`) for `POST /api/returns`. The token is
checked by its hash (alerts/usecases/tokens.py) and never logged."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.tokens import TokenMatch
from alerts.usecases.tokens import authenticate

_scheme = HTTPBearer(auto_error=False, description="A token from `kpi-alerts tokens create NAME`")


def bearer_token(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)]) -> TokenMatch:
    """The live token of the request (a sync dependency: FastAPI runs it in its threadpool)."""
    if credentials is None:
        raise HTTPException(401, "an API token is required: 'Authorization: Bearer TOKEN' "
                                 "(kpi-alerts tokens create NAME)",
                            headers={"WWW-Authenticate": 'Bearer realm="kpi-alerts"'})
    with session_for(state_of(request).settings.database_url) as session:
        match = authenticate(session, credentials.credentials, utcnow())
    if match is None:
        raise HTTPException(401, "invalid or revoked API token",
                            headers={"WWW-Authenticate": 'Bearer realm="kpi-alerts", error="invalid_token"'})
    return match
