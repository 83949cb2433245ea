"""Signing in by email link (issue 12).

`GET /signin` asks for an address; `POST /signin` answers the same page whether or not the
address is known (a link is emailed only to a user or a subscriber); the link
`GET /signin/link?token=T` shows a button and changes nothing (mail scanners follow links);
`POST /signin/link` uses it once and sets the session cookie. `POST /signout` ends it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadData
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.notify.channels import senders
from alerts.notify.channels.base import OutgoingMessage, Recipient
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import LINK_MINUTES, link_path, link_serializer, request_link, sign_in, sign_out
from alerts.web.render import TEMPLATES, render
from alerts.web.security import check_csrf, clear_session, finish, key, session_token, set_session, visitor

router = APIRouter(include_in_schema=False)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return render(request, "signin.html", await visitor(request), sent=False, error=None)


@router.post("/signin")
async def signin_request(request: Request) -> Response:
    form = await check_csrf(request)
    found = await visitor(request)
    state = state_of(request)
    settings = state.settings
    address = form.get("email", "")
    if not address.strip():
        return render(request, "signin.html", found, 400, sent=False, error="Enter your email address")
    base = (settings.base_url or str(request.base_url)).rstrip("/")

    def ask() -> None:
        with session_for(settings.database_url) as session:
            link = request_link(session, address, client_of(request), utcnow())
        if link is None:
            return  # unknown, not an address, or over a limit: the same answer
        url = base + link_path(key(request), link.nonce)
        text = (f"Sign in to kpi-alerts: {url}\n\nThe link works once, for {LINK_MINUTES} minutes. If you did not "
                "ask for it, ignore this email: nobody can sign in without the link.\n")
        html = TEMPLATES.get_template("signin_email.html").render(url=url, minutes=LINK_MINUTES, name=link.name)
        message = OutgoingMessage(f"signin-{link.nonce[:12]}", "Your kpi-alerts sign-in link", html, text, "info")
        channel = senders(settings)["email"]
        channel.send(Recipient(link.name or link.email, link.email, None), message, settings)

    await run_in_threadpool(ask)
    return render(request, "signin.html", found, sent=True, error=None, address=address.strip())


@router.get("/signin/link")
async def signin_link(request: Request, token: str = "") -> Response:
    """A page with a button: following the link changes nothing."""
    return render(request, "signin_link.html", await visitor(request), token=token)


@router.post("/signin/link")
async def signin_use(request: Request) -> Response:
    form = await check_csrf(request)
    found = await visitor(request)
    settings = state_of(request).settings
    try:
        nonce = link_serializer(key(request)).loads(form.get("token", ""), max_age=LINK_MINUTES * 60)
    except BadData:
        nonce = None

    def use() -> tuple[str, object] | None:
        if not isinstance(nonce, str):
            return None
        with session_for(settings.database_url) as session:
            return sign_in(session, nonce, utcnow(), settings.session_hours)

    done = await run_in_threadpool(use)
    if done is None:
        return render(request, "signin.html", found, 400, sent=False,
                      error="That sign-in link has been used or has expired: ask for a new one")
    response = finish(request, RedirectResponse("/", status_code=303))
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
