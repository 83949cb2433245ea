"""Users and roles (`/admin/users`, admin role): add a user or change a role, through the same
use case as `kpi-alerts users add`. The first admin comes from the command line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.web_users import ROLES, UserRow, list_users
from alerts.usecases.signin import add_user
from alerts.web.render import render
from alerts.web.security import ROLE_CAN, Visitor, check_csrf, finish, needs

router = APIRouter(include_in_schema=False)
ADMIN = needs("admin", "managing users")


@router.get("/admin/users")
async def users_page(request: Request, found: Annotated[Visitor, Depends(ADMIN)], done: str = "") -> Response:
    def read() -> list[UserRow]:
        with session_for(state_of(request).settings.database_url) as session:
            return list_users(session)

    return render(request, "admin_users.html", found, users=await run_in_threadpool(read), roles=ROLES,
                  role_can=ROLE_CAN, done=done, error=None, form={})


@router.post("/admin/users")
async def save_user(request: Request, found: Annotated[Visitor, Depends(ADMIN)]) -> Response:
    form = await check_csrf(request)
    settings = state_of(request).settings

    def act() -> str | None:
        with session_for(settings.database_url) as session:
            try:
                add_user(session, form.get("email", ""), form.get("role", ""), form.get("name", "").strip()[:200],
                         utcnow())
            except ValueError as exc:
                return str(exc)
        return None

    error = await run_in_threadpool(act)
    state_of(request).sessions.clear()  # a changed role applies from the next page
    if error:
        def read() -> list[UserRow]:
            with session_for(settings.database_url) as session:
                return list_users(session)
        return render(request, "admin_users.html", found, 400, users=await run_in_threadpool(read), roles=ROLES,
                      role_can=ROLE_CAN, done="", error=error, form=form)
    return finish(request, RedirectResponse("/admin/users?done=saved", status_code=303))
