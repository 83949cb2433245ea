"""The mail folder (`/mail`, admin role): the emails the service wrote instead of sending them
(KPI_ALERTS_MAIL_FOLDER, set by `kpi-alerts demo --serve`); 404 when that setting is not set.

Admin only: the folder holds every recipient's mail, sign-in links included (a link signs its
addressee in), so it is no page for a viewer. An email's HTML is never part of our page: its
text part is shown escaped, and its HTML in a sandboxed iframe served with the digest preview's
CSP (no scripts, no requests out)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.notify.channels.mail_folder import Mail, list_mail, mail_path, read_mail
from alerts.web.me import PREVIEW_POLICY
from alerts.web.render import render
from alerts.web.security import Visitor, finish, needs

router = APIRouter(include_in_schema=False)
_ADMIN = needs("admin", "reading the mail folder")


async def mail_admin(request: Request) -> Visitor:
    if not state_of(request).settings.mail_folder:
        raise HTTPException(404)
    return await _ADMIN(request)


Reader = Annotated[Visitor, Depends(mail_admin)]


def _one(request: Request, name: str) -> Mail:
    path = mail_path(state_of(request).settings.mail_folder, name)
    if path is None:
        raise HTTPException(404)
    return read_mail(path)


@router.get("/mail")
async def mail_list(request: Request, found: Reader) -> Response:
    folder = state_of(request).settings.mail_folder
    mails = await run_in_threadpool(list_mail, folder)
    return render(request, "mail.html", found, mails=mails, folder=folder)


@router.get("/mail/{name}")
async def mail_message(request: Request, found: Reader, name: str) -> Response:
    mail = await run_in_threadpool(_one, request, name)
    return render(request, "mail_message.html", found, mail=mail)


@router.get("/mail/{name}/html")
async def mail_html(request: Request, found: Reader, name: str) -> Response:
    mail = await run_in_threadpool(_one, request, name)
    if mail.html is None:
        raise HTTPException(404)
    response = HTMLResponse(mail.html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return finish(request, response)
