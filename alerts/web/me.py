"""My subscriptions (`/me`): follow or unfollow indicators, tags, providers and teams at a
minimum severity, straight away, in the digest or both; the empty-digest opt-out and the
digest's cadence; a preview of this week's digest as it would arrive. A change applies to the
next notification (routes are read when a notification is planned).

A viewer manages their own (the subscriber with their address, made on first follow); the
performance role may manage anyone's (`?subscriber=ID`, and `subscriber` in each form)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from alerts.api.ids import PathId, in_range
from alerts.api.state import state_of
from alerts.digest.render import render_digest
from alerts.digest.run import compose_for
from alerts.digest.weeks import upcoming_week
from alerts.store import subscriptions as store
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.subscriptions import (
    SubscriptionError,
    SubscriptionSpec,
    Suppressed,
    follow,
    own_subscriber,
    set_digest_options,
    unfollow,
)
from alerts.web.render import render
from alerts.web.security import NotAllowed, Visitor, check_csrf, finish, may, signed_in
from alerts.web.views import describe, indicator_choices, tags_of
from rules.vocabulary import provider_name

router = APIRouter(include_in_schema=False)
# the email's own HTML (inline style, never script), framed by /me only: this origin may frame it
PREVIEW_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def whose(found: Visitor, asked: str | int | None, session: object, create: bool = False) -> int | None:
    """The subscriber this request acts on: the visitor's own, or (performance role) the one
    asked for. NotAllowed when a viewer asks for someone else's."""
    user = found.user
    assert user is not None
    own = own_subscriber(session, user.email, user.name, create)  # type: ignore[arg-type]
    if asked in (None, ""):
        return own
    try:
        wanted = int(asked)  # type: ignore[arg-type]
    except ValueError:
        wanted = -1
    if not in_range(wanted):  # beyond a database integer: no such subscriber
        wanted = -1
    if wanted != own and not may(user, "performance"):
        raise NotAllowed("performance", "managing someone else's subscriptions", user.role)
    return wanted


def _me_url(subscriber: str | int | None, done: str) -> str:
    return f"/me?done={done}" + (f"&subscriber={subscriber}" if subscriber not in (None, "") else "")


@router.get("/me")
async def my_subscriptions(request: Request, found: Annotated[Visitor, Depends(signed_in)],
                           subscriber: str = "", done: str = "", error: str = "") -> Response:
    state = state_of(request)
    catalog = state.catalog

    today = utcnow().date()

    def read() -> dict:
        with session_for(state.settings.database_url) as session:
            sid = whose(found, subscriber or None, session)
            who = store.subscriber_by_id(session, sid) if sid is not None else None
            subs = store.subscriptions_of(session, sid) if sid is not None else []
            providers, teams = store.known_providers_and_teams(session)
            everyone = ([(s.id, s.name) for s in store.subscribers(session)]
                        if may(found.user, "performance") else [])
            return dict(who=who, subscriptions=[(i, describe(catalog, v, today)) for i, v in subs],
                        providers=[(p, provider_name(p)) for p in sorted(providers)], teams=sorted(teams),
                        everyone=everyone)

    context = await run_in_threadpool(read)
    return render(request, "me.html", found, indicators=indicator_choices(catalog, today), tags=tags_of(catalog),
                  subscriber=subscriber, done=done, error=error, **context)


@router.post("/me/subscriptions")
async def add_subscription(request: Request, found: Annotated[Visitor, Depends(signed_in)]) -> Response:
    form = await check_csrf(request)
    state = state_of(request)
    asked = form.get("subscriber") or None
    try:
        spec = SubscriptionSpec(**{k: [form[k]] for k in ("indicators", "tags", "providers", "teams") if form.get(k)},
                                min_severity=form.get("min_severity", "amber"),  # type: ignore[arg-type]
                                delivery=form.get("delivery", "immediate"))  # type: ignore[arg-type]
    except ValidationError:
        return finish(request, RedirectResponse(_me_url(asked, "") + "&error=choice", status_code=303))

    def act() -> str:
        with session_for(state.settings.database_url) as session:
            sid = whose(found, asked, session, create=True)
            if sid is None or store.subscriber_by_id(session, sid) is None:
                return "choice"
            mine = sid == own_subscriber(session, found.user.email, found.user.name, False)  # type: ignore[union-attr]
            try:
                follow(session, state.catalog, sid, spec, by_self=mine)  # only the person lifts a suppression
            except Suppressed:
                return "suppressed"
            except SubscriptionError:
                return "choice"
            return ""

    error = await run_in_threadpool(act)
    return finish(request, RedirectResponse(_me_url(asked, "" if error else "followed")
                                            + (f"&error={error}" if error else ""), status_code=303))


@router.post("/me/subscriptions/{subscription_id}/delete")
async def remove_subscription(request: Request, subscription_id: PathId,
                              found: Annotated[Visitor, Depends(signed_in)]) -> Response:
    form = await check_csrf(request)
    settings = state_of(request).settings
    asked = form.get("subscriber") or None

    def act() -> None:
        with session_for(settings.database_url) as session:
            sid = whose(found, asked, session)
            if sid is not None:
                unfollow(session, sid, subscription_id)

    await run_in_threadpool(act)
    return finish(request, RedirectResponse(_me_url(asked, "unfollowed"), status_code=303))


@router.post("/me/digest")
async def digest_options(request: Request, found: Annotated[Visitor, Depends(signed_in)]) -> Response:
    form = await check_csrf(request)
    settings = state_of(request).settings
    asked = form.get("subscriber") or None

    def act() -> None:
        with session_for(settings.database_url) as session:
            sid = whose(found, asked, session, create=True)
            if sid is not None:
                set_digest_options(session, sid, form.get("empty_digest") == "yes",
                                   "monthly" if form.get("cadence") == "monthly" else "weekly")

    await run_in_threadpool(act)
    return finish(request, RedirectResponse(_me_url(asked, "saved"), status_code=303))


@router.get("/me/digest-preview")
async def digest_preview(request: Request, found: Annotated[Visitor, Depends(signed_in)],
                         subscriber: str = "") -> Response:
    """This week's digest as it would arrive, as the email's own HTML (nothing recorded). Served
    with a sandboxing CSP: the page shows it in an iframe."""
    state = state_of(request)
    settings = state.settings

    def compose() -> str:
        now = utcnow()
        with session_for(settings.database_url) as session:
            sid = whose(found, subscriber or None, session)
            if sid is None:
                return ("<p>You follow nothing yet: follow an indicator and this shows the digest you would get.</p>")
            _who, model = compose_for(session, state.catalog, settings.timezone, upcoming_week(now, settings.timezone),
                                      sid, now, weekday=settings.digest_weekday)
            return render_digest(model, settings.base_url)[1]

    html = await run_in_threadpool(compose)
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return finish(request, response)
