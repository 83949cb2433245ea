"""Bearer tokens (`kpi-alerts tokens create NAME [--scope upload|read|manage]`) for
`POST /api/returns` and the JSON API. The token is checked by its hash
(alerts/usecases/tokens.py) and never logged; failures are counted per client
(alerts/api/guessing.py) and a token is refused (403) outside its scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.api.guessing import client_address
from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.tokens import TokenMatch
from alerts.usecases.tokens import authenticate, scope_allows, scope_needed

_scheme = HTTPBearer(auto_error=False, description="A token from `kpi-alerts tokens create NAME`")
ACTION_WORDS = {"upload": "uploading a return (POST /api/returns)", "read": "reading the JSON API (GET /api/...)",
                "change": "changing something through the JSON API"}


def check_token(request: Request, token: str) -> TokenMatch:
    """The live token `token` is (sync: run it in the threadpool); 429 for a client past its
    failures, 401 for a wrong token (counted)."""
    state = state_of(request)
    client = client_address(request)
    state.failures.check(client)
    with session_for(state.settings.database_url) as session:
        match = authenticate(session, token, utcnow())
    if match is None:
        state.failures.failed(client)
        raise HTTPException(401, "invalid or revoked API token",
                            headers={"WWW-Authenticate": 'Bearer realm="kpi-alerts", error="invalid_token"'})
    return match


def require_scope(match: TokenMatch, action: str) -> None:
    """403, naming the scope needed, for a token whose scope does not allow `action`."""
    if not scope_allows(match.scope, action):
        needed = scope_needed(action)
        raise HTTPException(403, f"{ACTION_WORDS[action]} needs a token with the {needed} scope"
                                 f"{'' if needed == 'manage' else ' (or manage)'}; this token's scope is "
                                 f"{match.scope} (kpi-alerts tokens create NAME --scope {needed})")


def bearer_token(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)]) -> TokenMatch:
    """The live upload token of the request (a sync dependency: FastAPI runs it in its threadpool)."""
    if credentials is None:
        raise HTTPException(401, "an API token is required: 'Authorization: Bearer TOKEN' "
                                 "(kpi-alerts tokens create NAME)",
                            headers={"WWW-Authenticate": 'Bearer realm="kpi-alerts"'})
    match = check_token(request, credentials.credentials)
    require_scope(match, "upload")
    return match
