"""The one-click unsubscribe every email links to (`BASE/unsubscribe?token=T`; RFC 8058).

- `POST /unsubscribe?token=T` with the form body `List-Unsubscribe=One-Click` (what a mail
  client sends for `List-Unsubscribe-Post`, and what the page's button sends): every
  subscription of the token's subscriber is removed; 200. No cookie, no login, no redirect.
- `GET /unsubscribe?token=T`: a page with that button. It changes nothing by itself: mail
  scanners and link previews follow links.
- A tampered or malformed token, or a genuine one that no longer works (revoked with
  `kpi-alerts subscriptions revoke-links NAME`, or its subscriber is no longer on record):
  400 saying which, nothing changes. Links do not expire.

The token is verified by alerts/notify/unsubscribe.py (itsdangerous, the install's key), and
whether it still works by usecases.subscriptions.link_holder. It
is a credential in the URL, so the pages are never cached, never framed and send no
Referer, and the access log masks it (alerts/cli/serve.py).
"""

from __future__ import annotations

import html
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.notify.unsubscribe import BadToken, verify_token
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.secrets import signing_key
from alerts.usecases.subscriptions import LinkRefused, link_holder, unsubscribe_subscriber
from alerts.web.render import TEMPLATES

log = logging.getLogger(__name__)
router = APIRouter(tags=["unsubscribe"])

ONE_CLICK = ("List-Unsubscribe", "One-Click")
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; "
                                      "form-action 'self'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff"}
P = '<p class="govuk-body">'  # a paragraph in the GOV.UK look
TokenParam = Annotated[str, Query(description="The signed token from the email's link", max_length=2000)]



def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """The web app's look (alerts/web/templates/unsubscribe.html), with no session and no cookie:
    `body` is markup built here, every text in it escaped."""
    html_page = TEMPLATES.get_template("unsubscribe.html").render(
        title=title, body=Markup(body), user=None, csrf="", may=lambda _role: False, path="/unsubscribe")  # noqa: S704
    return HTMLResponse(html_page, status_code=status, headers=HEADERS)


def bad_token(reason: str) -> HTMLResponse:
    return page("This unsubscribe link does not work",
                f"{P}{html.escape(reason[:1].upper() + reason[1:])}. Nothing was changed.</p>"
                f"{P}If kpi-alerts still emails you, use the unsubscribe link in the newest email.</p>", 400)


def _holder(request: Request, token: str) -> str:
    """The name of the subscriber of a link that works. BadToken or LinkRefused else."""
    settings = state_of(request).settings
    with session_for(settings.database_url) as session:
        claim = verify_token(signing_key(session, settings), token)
        return link_holder(session, claim.subscriber_id, claim.version)


@router.get("/unsubscribe", response_class=HTMLResponse, summary="The unsubscribe page (changes nothing)",
            responses={400: {"description": "Tampered token, or a link revoked or of a subscriber no longer "
                                             "on record"}})
def unsubscribe_page(request: Request, token: TokenParam) -> HTMLResponse:
    try:
        name = _holder(request, token)
    except (BadToken, LinkRefused) as exc:
        return bad_token(str(exc))
    who = f" ({html.escape(name)})" if name else ""
    action = html.escape(f"?token={token}", quote=True)  # the token alphabet needs no escaping: belt and braces
    return page("Unsubscribe from kpi-alerts",
                f"{P}Stop every kpi-alerts email to this subscriber{who}: alerts, reminders and digests.</p>"
                f'<form method="post" action="{action}">'
                f'<input type="hidden" name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
                "<button type=\"submit\" class=\"govuk-button\">Unsubscribe</button></form>"
                f"{P}Nothing has changed yet: only the button unsubscribes.</p>")


@router.post("/unsubscribe", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/x-www-form-urlencoded": {"schema": {
                     "type": "object", "required": ["List-Unsubscribe"],
                     "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}}}}}}},
             responses={400: {"description": "Tampered token, a link revoked or of a subscriber no longer on "
                                             "record, or not the one-click body"}})
async def unsubscribe_one_click(request: Request, token: TokenParam) -> HTMLResponse:
    form = await request.form(max_files=0, max_fields=10)
    try:
        one_click = form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    finally:
        await form.close()
    if not one_click:
        return page("Not unsubscribed", f"{P}Expected the form body <code>List-Unsubscribe=One-Click</code> "
                                        "(RFC 8058). Nothing was changed.</p>", 400)
    try:
        removed = await run_in_threadpool(_remove, request, token)
    except (BadToken, LinkRefused) as exc:
        return bad_token(str(exc))
    log.info("unsubscribe: %d subscriptions removed for subscriber %s", removed[0], removed[1])
    return page("You are unsubscribed",
                f"{P}kpi-alerts will send no more alerts, reminders or digests to this subscriber.</p>")


def _remove(request: Request, token: str) -> tuple[int, int]:
    settings = state_of(request).settings
    with session_for(settings.database_url) as session:
        claim = verify_token(signing_key(session, settings), token)
        return unsubscribe_subscriber(session, claim.subscriber_id, claim.version, utcnow()), claim.subscriber_id
