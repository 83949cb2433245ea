"""API tokens (`/tokens`, performance role): list, create (the token shown once, on the page
that answers the POST, never again) and revoke, as `kpi-alerts tokens create|list|revoke`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.tokens import TokenError, create, listing, revoke
from alerts.web.render import render
from alerts.web.security import Visitor, check_csrf, finish, needs

router = APIRouter(include_in_schema=False)
PERFORMANCE = needs("performance", "managing API tokens")


def _list(request: Request) -> list:
    with session_for(state_of(request).settings.database_url) as session:
        return listing(session)


@router.get("/tokens")
async def tokens_page(request: Request, found: Annotated[Visitor, Depends(PERFORMANCE)], done: str = "") -> Response:
    return render(request, "tokens.html", found, tokens=await run_in_threadpool(_list, request), created=None,
                  error=None, done=done)


@router.post("/tokens")
async def create_token(request: Request, found: Annotated[Visitor, Depends(PERFORMANCE)]) -> Response:
    form = await check_csrf(request)
    name = form.get("name", "").strip()
    scope = form.get("scope", "upload")

    def act() -> tuple[str | None, str | None]:
        with session_for(state_of(request).settings.database_url) as session:
            try:
                return create(session, name, utcnow(), scope), None
            except TokenError as exc:
                return None, str(exc)

    token, error = await run_in_threadpool(act)
    response = render(request, "tokens.html", found, 400 if error else 200, tokens=await run_in_threadpool(
        _list, request), created=(name, token) if token else None, error=error, done="")
    return response


@router.post("/tokens/revoke")
async def revoke_token(request: Request, found: Annotated[Visitor, Depends(PERFORMANCE)]) -> Response:
    form = await check_csrf(request)

    def act() -> None:
        with session_for(state_of(request).settings.database_url) as session:
            revoke(session, form.get("name", ""), utcnow())

    await run_in_threadpool(act)
    return finish(request, RedirectResponse("/tokens?done=revoked", status_code=303))
