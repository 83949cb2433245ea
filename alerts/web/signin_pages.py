"""Signing in by email link (issue 12).

`GET /signin` asks for an address; `POST /signin` answers the same page whether or not the
address is known (a link is emailed only to a user or a subscriber); the link
`GET /signin/link?token=T` shows a button and changes nothing (mail scanners follow links);
`POST /signin/link` uses it once and sets the session cookie. `POST /signout` ends it.

A page asked for without a session sends the visitor to `/signin?next=PAGE`; `next` rides in
the form, in the emailed link (`&next=PAGE`) and in the link's form, and signing in lands on it.
It is checked at every step (`safe_next`): a path of this site, else the status board. The
link's address comes from KPI_ALERTS_BASE_URL only, never from the request (its Host header
is the sender's to choose): without it, no link is emailed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadData
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.notify.channels import senders
from alerts.notify.channels.base import OutgoingMessage, Recipient
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import (
    LINK_MINUTES,
    link_path,
    link_serializer,
    request_link,
    safe_next,
    sign_in,
    sign_out,
)
from alerts.web.render import TEMPLATES, render
from alerts.web.security import check_csrf, clear_session, finish, key, session_token, set_session, visitor
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
    # every address (reads the install's key, queues a job); looking the address up, counting
    # the limits and sending the email (SMTP may take seconds) happen after, off the request.
    job = (settings, address, client_of(request), await run_in_threadpool(key, request), landing)
    state.mailer.submit(_send_link, *job)
    return render(request, "signin.html", found, sent=True, error=None, address=address.strip(), next=landing)


def _send_link(settings: Settings, address: str, client: str, install_key: bytes, landing: str) -> None:
    """The job queued by `POST /signin`: the link, made and emailed, for a known address only."""
    try:
        base = settings.base_url.rstrip("/")  # never the request's Host: the link would go where it says
        if not base:
            log.error("KPI_ALERTS_BASE_URL is not set: no sign-in link can be emailed (kpi-alerts users link "
                      "prints one)")
            return
        with session_for(settings.database_url) as session:
            link = request_link(session, address, client, utcnow())
        if link is None:
            return  # unknown, not an address, or over a limit: nobody is told
        url = base + link_path(install_key, link.nonce, landing)
        text = (f"Sign in to kpi-alerts: {url}\n\nThe link works once, for {LINK_MINUTES} minutes. If you did not "
                "ask for it, ignore this email: nobody can sign in without the link.\n")
        html = TEMPLATES.get_template("signin_email.html").render(url=url, minutes=LINK_MINUTES, name=link.name)
        message = OutgoingMessage(f"signin-{link.nonce[:12]}", "Your kpi-alerts sign-in link", html, text, "info")
        channel = senders(settings)["email"]
        channel.send(Recipient(link.name or link.email, link.email, None), message, settings)
    except Exception:  # a job off the request: nobody else would hear of it
        log.exception("a sign-in link could not be sent")


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
