"""Signing in by email link (issue 12).

`GET /signin` asks for an address; `POST /signin` answers the same page whether or not the
address is known (a link is emailed only to a user or a subscriber); the link
`GET /signin/link?token=T` shows a button and changes nothing (mail scanners follow links);
`POST /signin/link` uses it once and sets the session cookie. `POST /signout` ends it.

A page asked for without a session sends the visitor to `/signin?next=PAGE`; `next` rides in
the form, in the emailed link (`&next=PAGE`) and in the link's form, and signing in lands on it.
It is checked at every step (`safe_next`): a path of this site, else the status board. The
link's address comes from KPI_ALERTS_BASE_URL only, never from the request (its Host header
is the sender's to choose): without it, no link is emailed. The request is recorded before the
answer and its email sent by the signin_mail step (alerts/steps.py): a Celery worker in broker mode.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadData
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import (
    LINK_MINUTES,
    LOCAL_LINK_MINUTES,
    link_serializer,
    record_link_request,
    safe_next,
    sign_in,
    sign_out,
)
from alerts.web.render import render
from alerts.web.security import check_csrf, clear_session, finish, key, session_token, set_session, visitor

if TYPE_CHECKING:
    from alerts.steps import Dispatcher
    from config import Settings

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signin_for(request: Request) -> str:
    """Where a visitor without a session goes: /signin, with the page they asked for as `next`
    (a GET only: a form's POST cannot be replayed after signing in)."""
    landing = "/"
    if request.method in ("GET", "HEAD"):
        landing = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return "/signin" if landing == "/" else f"/signin?{urlencode({'next': landing})}"


def link_seconds(settings: Settings) -> int:
    """How old a link's signature may be: the local demo's (mail folder set) links last a day;
    the stored expiry of each link is checked as well."""
    return (LOCAL_LINK_MINUTES if settings.mail_folder else LINK_MINUTES) * 60


@router.get("/signin")
async def signin_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query's name
    return render(request, "signin.html", await visitor(request), sent=False, error=None, next=safe_next(next))


@router.post("/signin")
async def signin_request(request: Request) -> Response:
    form = await check_csrf(request)
    found = await visitor(request)
    state = state_of(request)
    settings = state.settings
    address = form.get("email", "")
    landing = safe_next(form.get("next", "/"))
    if not address.strip():
        return render(request, "signin.html", found, 400, sent=False, error="Enter your email address",
                      next=landing)
    # The answer must not tell a known address by its timing: the request does the same for
    # every address (counts the limits, records the request: durable before the answer); looking
    # the address up and sending the email (SMTP may take seconds) is the signin_mail step, handed
    # the id off the request: a worker in broker mode, else this process's background executor.
    def record() -> int | None:
        with session_for(settings.database_url) as session:
            return record_link_request(session, address, client_of(request), utcnow(), landing)

    request_id = await run_in_threadpool(record)
    if request_id is not None:
        state.mailer.submit(_hand_on, state.dispatcher, request_id)
    return render(request, "signin.html", found, sent=True, error=None, address=address.strip(), next=landing)


def _hand_on(dispatcher: Dispatcher, request_id: int) -> None:
    """Off the request: the signin_mail step runs here (no broker) or is published to the workers
    (the sweep hands on a request whose step never ran)."""
    try:
        dispatcher.signin_mail(request_id)
    except Exception:  # a job off the request: nobody else would hear of it
        log.exception("sign-in request %s: the link could not be sent", request_id)


@router.get("/signin/link")
async def signin_link(request: Request, token: str = "", next: str = "/") -> Response:  # noqa: A002
    """A page with a button: following the link changes nothing."""
    return render(request, "signin_link.html", await visitor(request), token=token, next=safe_next(next))


@router.post("/signin/link")
async def signin_use(request: Request) -> Response:
    form = await check_csrf(request)
    found = await visitor(request)
    state = state_of(request)
    settings = state.settings
    landing = safe_next(form.get("next", "/"))
    await run_in_threadpool(state.failures.check, client_of(request))  # 429 past the failures per minute
    try:
        nonce = link_serializer(key(request)).loads(form.get("token", ""), max_age=link_seconds(settings))
    except BadData:
        nonce = None

    def use() -> tuple[str, object] | None:
        if not isinstance(nonce, str):
            return None
        with session_for(settings.database_url) as session:
            return sign_in(session, nonce, utcnow(), settings.session_hours)

    done = await run_in_threadpool(use)
    if done is None:
        await run_in_threadpool(state.failures.failed, client_of(request))
        return render(request, "signin.html", found, 400, sent=False,
                      error="That sign-in link has been used or has expired: ask for a new one", next=landing)
    response = finish(request, RedirectResponse(landing, status_code=303))
    set_session(request, response, done[0], settings.session_hours)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    await check_csrf(request)
    token = session_token(request)
    if token:
        def end() -> None:
            with session_for(state_of(request).settings.database_url) as session:
                sign_out(session, token, utcnow())
        await run_in_threadpool(end)
        state_of(request).sessions.forget(token)  # after the database says so: no lookup re-caches it
    response = finish(request, RedirectResponse("/signin", status_code=303))
    clear_session(request, response)
    return response
