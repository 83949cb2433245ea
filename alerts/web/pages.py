"""The web app's pages (issue 12), server-rendered with the GOV.UK Frontend look, working
without JavaScript. Built so far: sign in by email link, sign out, and the status board.

Sign-in: `GET /signin` asks for an address; `POST /signin` answers the same page whether or
not the address is known (a link is emailed only to a user or a subscriber); the link
`GET /signin/link?token=T` shows a button and changes nothing (mail scanners follow links);
`POST /signin/link` uses it once and sets the session cookie. `POST /signout` ends it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadData, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.digest.compose import position_sentence
from alerts.indicators import rules_for_indicator
from alerts.notify.channels import senders
from alerts.notify.channels.base import OutgoingMessage, Recipient
from alerts.notify.wording import provider_name
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.queries import current_status, events_of, history
from alerts.templating import fmt_value
from alerts.usecases.signin import LINK_MINUTES, request_link, sign_in, sign_out
from alerts.web.chart import Interval, Month, series_svg
from alerts.web.security import (
    CSRF_FIELD,
    Visitor,
    check_csrf,
    clear_session,
    finish,
    key,
    session_token,
    set_session,
    signed_in,
    visitor,
)
from rules.periods import period_start

router = APIRouter(include_in_schema=False)
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(default=True), undefined=StrictUndefined, trim_blocks=True,
                        lstrip_blocks=True)
STATIC = "/static/govuk-frontend"
RAG_WORDS = {"green": "On target", "amber": "Within tolerance", "red": "In failure", None: "Not rated"}
RAG_TAGS = {"green": "govuk-tag--green", "amber": "govuk-tag--yellow", "red": "govuk-tag--red", None: "govuk-tag--grey"}


def render(request: Request, template: str, found: Visitor, status: int = 200, **context: object) -> Response:
    html = TEMPLATES.get_template(template).render(user=found.user, csrf=found.csrf, csrf_field=CSRF_FIELD,
                                               static=STATIC, rag_words=RAG_WORDS, rag_tags=RAG_TAGS, **context)
    return finish(request, HTMLResponse(html, status_code=status))


def _links(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key(request), salt="kpi-alerts-signin-link")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- sign in -----------------------------------------------------------------------------


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
        url = f"{base}/signin/link?{urlencode({'token': _links(request).dumps(link.nonce)})}"
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
        nonce = _links(request).loads(form.get("token", ""), max_age=LINK_MINUTES * 60)
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
    response = finish(request, RedirectResponse("/signin", status_code=303))
    clear_session(request, response)
    return response


# --- the status board ----------------------------------------------------------------------


@router.get("/")
async def status_board(request: Request, found: Annotated[Visitor, Depends(signed_in)],
                       provider: str | None = None) -> Response:
    state = state_of(request)
    catalog = state.catalog

    def read() -> list:
        with session_for(state.settings.database_url) as session:
            return current_status(session, provider or None)

    rows = await run_in_threadpool(read)
    by_provider: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        bound = catalog.rules_by_id.get(r.rule_id)
        if bound is None or r.subject != r.provider:  # the provider's own indicators; teams and workers elsewhere
            continue
        by_provider[r.provider].append({
            "code": bound.code or "", "name": bound.rule.name, "key": bound.rule.measure_key, "period": r.period,
            "value": _value(bound.rule, r.value), "rating": r.rating,
            "since": r.since if r.alert in ("amber", "red") else None,  # only while outside green
            "contract": bool(bound.code)})
    boards = []
    for p in sorted(by_provider):
        cells = sorted(by_provider[p], key=lambda c: (not c["contract"], _code_order(c["code"]), c["name"]))
        counts = Counter(c["rating"] for c in cells if c["contract"])
        boards.append({"provider": p, "name": provider_name(p), "cells": cells,
                       "headline": position_sentence(counts) if counts else None})
    return render(request, "status.html", found, boards=boards, provider=provider)


def _value(rule: object, value: float) -> str:
    """As messages put it: a finance rule's rated value is a percentage of what `amount.of` names."""
    amount = getattr(rule, "amount", None)
    if amount is not None:
        return f"overspend {round(value, 2):g}% of {amount.of.replace('ytd_', 'year-to-date ').replace('_', ' ')}"
    return fmt_value(value, rule.unit)  # type: ignore[attr-defined]


def _code_order(code: str) -> tuple[int, str]:
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits else 10_000, code)


# --- an indicator ------------------------------------------------------------------------


def _bands(bound: object, period: str) -> dict[str, tuple[Interval, ...]]:
    version = bound.rule.version_for(period_start(period))  # type: ignore[attr-defined]
    if version is None or version.bands is None:
        return {}
    inf = float("inf")

    def edge(*found: float | None, default: float) -> float:
        return next((v for v in found if v is not None), default)

    return {name: tuple(Interval(edge(iv.gt, iv.gte, default=-inf), edge(iv.lt, iv.lte, default=inf))
                        for iv in getattr(version.bands, name)) for name in ("green", "amber", "red")}


@router.get("/indicators/{key}")
async def indicator_page(request: Request, key: str, found: Annotated[Visitor, Depends(signed_in)],
                         provider: str | None = None) -> Response:
    """The series with its bands as they were in force, the same as a table, the rule's notes
    and source, and the alert's history with acknowledgements and their notes."""
    state = state_of(request)
    catalog = state.catalog
    rule_ids = rules_for_indicator(catalog, key)
    if not rule_ids:
        return render(request, "not_found.html", found, 404, what=f"No indicator is called {key}")

    def read() -> tuple[list, list]:
        with session_for(state.settings.database_url) as session:
            rows = history(session, rule_ids, provider or None)
            subject = provider or (rows[0].subject if rows else "")
            rows = [r for r in rows if r.subject == subject]
            return rows, events_of(session, rule_ids, subject) if subject else []

    rows, events = await run_in_threadpool(read)
    bound = catalog.rules_by_id[rows[-1].rule_id if rows else rule_ids[0]]
    months = [Month(r.period, r.value, r.rating, _bands(catalog.rules_by_id[r.rule_id], r.period)) for r in rows]
    suffix = "%" if bound.rule.unit == "percent" else ""
    subject = rows[0].subject if rows else (provider or "")
    title = f"{bound.code + ' ' if bound.code else ''}{bound.rule.name}"
    latest = bound.rule.version_for(period_start(rows[-1].period)) if rows else None
    table = [{"period": r.period, "value": _value(catalog.rules_by_id[r.rule_id].rule, r.value), "rating": r.rating,
              "bands": r.thresholds} for r in reversed(rows)]
    return render(request, "indicator.html", found, title=title, subject=subject, name=provider_name(subject),
                  chart=series_svg(months, f"{title}, {provider_name(subject)}", suffix), rows=table,
                  events=events, notes=latest.notes if latest else [], source=latest.source if latest else None)
