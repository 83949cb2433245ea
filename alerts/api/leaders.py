"""The web app's JSON API, with the same authorisation as its pages (OpenAPI at /docs):
`GET /api/status`, `GET /api/indicators/{key}/history?provider=P`, `GET /api/alerts`,
`POST /api/alerts/{id}/ack`, `GET/POST/DELETE /api/subscriptions`, `GET /api/returns`.

A call carries either a bearer token (`kpi-alerts tokens create NAME --scope read|manage`: the
performance team's scripts; a read token may GET, a manage token may do all the performance role
may) or the web session cookie (the user's role). A
cookie-authenticated POST or DELETE must also send the header `X-CSRF-Token` with the value
every page's forms carry: a cross-site page can neither read it nor send the header."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from alerts.api.auth import check_token, require_scope
from alerts.api.ids import MAX_ID, PathId, in_range
from alerts.api.state import state_of
from alerts.indicators import rules_for_indicator
from alerts.store import subscriptions as sub_store
from alerts.store.db import session_for
from alerts.store.landing import recent_returns
from alerts.store.models import utcnow
from alerts.store.queries import open_alerts, subject_history
from alerts.store.web_users import UserRow
from alerts.usecases.acks import acknowledge
from alerts.usecases.expected import calendar_now
from alerts.usecases.subscriptions import SubscriptionError, SubscriptionSpec, follow, own_subscriber, unfollow
from alerts.web.security import CSRF_COOKIE, may, same_token, visitor
from alerts.web.views import RATINGS, Filters, boards, comparator_lines
from rules.vocabulary import provider_name

router = APIRouter(prefix="/api", tags=["web app"])
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Caller:
    role: str
    by: str  # how the alert history names them
    user: UserRow | None = None  # None: a bearer token


async def caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        match = await run_in_threadpool(check_token, request, header[7:].strip())
        require_scope(match, "change" if request.method in UNSAFE else "read")
        return Caller("performance", f"token {match.name}")
    user = (await visitor(request)).user
    if user is None:
        raise HTTPException(401, "sign in, or send 'Authorization: Bearer TOKEN' (kpi-alerts tokens create NAME)",
                            headers={"WWW-Authenticate": 'Bearer realm="kpi-alerts"'})
    if request.method in UNSAFE and not same_token(request.headers.get("x-csrf-token"),
                                                    request.cookies.get(CSRF_COOKIE, "")):
        raise HTTPException(403, "a signed-in call that changes something needs the X-CSRF-Token header")
    return Caller(user.role, f"{user.name} <{user.email}>" if user.name else user.email, user)


Who = Annotated[Caller, Depends(caller)]


def _allowed(who: Caller, role: str, what: str) -> None:
    if not (who.user is None and role != "admin") and not may(who.user, role):
        raise HTTPException(403, f"{what} needs the {role} role (yours: {who.role})")


@router.get("/status", summary="The status board")
async def status(request: Request, who: Who, provider: str = "", tag: str = "",
                 rating: Annotated[str, Query(description="green, amber, red or none")] = "") -> JSONResponse:
    state = state_of(request)

    def read():  # noqa: ANN202
        with session_for(state.settings.database_url) as session:
            return state.snapshot.get(session, state.catalog, state.settings.timezone, utcnow())[0]

    data = await run_in_threadpool(read)
    found = boards(state.catalog, data, Filters(provider or None, tag or None,
                                                rating if rating in (*RATINGS, "none") else None))
    out = []
    for b in found:
        f = b.finance
        out.append({"provider": b.provider, "name": b.name, "headline": b.headline,
                    "indicators": [dataclasses.asdict(c) for c in b.cells],
                    "finance": None if f is None else {
                        "period": f.period, "forecast_outturn": f.forecast_outturn, "funding": f.funding,
                        "overspend": f.overspend, "overspend_pct": f.overspend_pct, "rating": f.rating},
                    "caseloads": None if b.caseloads is None else {
                        "period": b.caseloads.period, "workers": dict(b.caseloads.workers),
                        "teams": dict(b.caseloads.teams), "summary": b.caseloads.sentence},
                    "missing_returns": [{"kind": o.kind, "period": o.period, "due": o.due.isoformat(),
                                         "earlier": o.earlier} for o in b.overdue]})
    return JSONResponse({"providers": out})


@router.get("/indicators/{key}/history", summary="An indicator's rated series and alert history")
async def indicator_history(request: Request, key: str, who: Who, provider: str = "") -> JSONResponse:
    state = state_of(request)
    rule_ids = rules_for_indicator(state.catalog, key)
    if not rule_ids:
        raise HTTPException(404, f"no indicator is called {key!r} (expected a key, rule id or contract code)")

    def read() -> tuple[list, list]:
        with session_for(state.settings.database_url) as session:
            return subject_history(session, rule_ids, provider)

    rows, events = await run_in_threadpool(read)
    bound = state.catalog.rules_by_id[rows[-1].rule_id if rows else rule_ids[0]]
    return JSONResponse({
        "indicator": bound.rule.measure_key, "code": bound.code, "name": bound.rule.name, "unit": bound.rule.unit,
        "subject": rows[0].subject if rows else provider or None,
        "comparators": [{"name": c.label, "figures": [{"from": since or None, "value": v} for since, v in c.figures]}
                        for c in comparator_lines(state.catalog, bound.id)],
        "history": [{"rule": r.rule_id, "period": r.period, "value": r.value, "rating": r.rating,
                     "bands": r.thresholds, "rule_version": r.rule_version} for r in rows],
        "events": [{"id": e.id, "alert": e.alert_id, "kind": e.kind, "from": e.from_state, "to": e.to_state,
                    "period": e.period, "value": e.value, "by": e.by, "by_role": e.by_role, "note": e.note,
                    "at": e.at.isoformat()}
                   for e in events]})


@router.get("/alerts", summary="Open alerts, worst first")
async def alerts(request: Request, who: Who, provider: str = "") -> JSONResponse:
    settings = state_of(request).settings

    def read() -> list:
        with session_for(settings.database_url) as session:
            return open_alerts(session, utcnow(), provider or None)

    rows = await run_in_threadpool(read)
    def shape(a: object) -> dict:
        found = dataclasses.asdict(a)  # type: ignore[call-overload]
        return {**found, **{k: found[k].isoformat() for k in ("acked_at", "snoozed_until") if found[k]}}

    return JSONResponse({"alerts": [shape(a) for a in rows]})


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert, with a note kept in its history "
                                                 "(performance role)")
async def ack(request: Request, alert_id: PathId, body: AckBody, who: Who) -> JSONResponse:
    _allowed(who, "performance", "acknowledging an alert")
    settings = state_of(request).settings

    def act() -> bool:
        with session_for(settings.database_url) as session:
            try:
                acknowledge(session, alert_id, who.by, (body.note or "").strip() or None, utcnow(), who.role)
            except LookupError:
                return False
            return True

    if not await run_in_threadpool(act):
        raise HTTPException(404, f"no alert with id {alert_id}")
    return JSONResponse({"alert": alert_id, "acknowledged_by": who.by, "role": who.role, "note": body.note})


class SubscriptionBody(SubscriptionSpec):
    """A subscription as `subscriptions apply` takes it, and whose: someone else's (performance
    role) by subscriber id; a signed-in person's own by default."""

    subscriber: int | None = Field(None, ge=1, le=MAX_ID)


def _subscriber(session: object, who: Caller, asked: int | None, create: bool) -> int | None:
    if asked is not None:
        own = own_subscriber(session, who.user.email, who.user.name, False) if who.user else None  # type: ignore[arg-type]
        if asked != own:
            _allowed(who, "performance", "managing someone else's subscriptions")
        return asked if sub_store.subscriber_by_id(session, asked) is not None else None  # type: ignore[arg-type]
    if who.user is None:
        raise HTTPException(400, "a token call names the subscriber: 'subscriber' (an id from GET /api/subscriptions)")
    return own_subscriber(session, who.user.email, who.user.name, create)  # type: ignore[arg-type]


@router.get("/subscriptions", summary="Your subscriptions (or, performance role, anyone's)")
async def subscriptions(request: Request, who: Who, subscriber: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
                        ) -> JSONResponse:
    settings = state_of(request).settings

    def read() -> dict:
        with session_for(settings.database_url) as session:
            if subscriber is None and who.user is None:  # a token without a subscriber: everyone's
                return {"subscribers": [{"id": s.id, "name": s.name} for s in sub_store.subscribers(session)]}
            sid = _subscriber(session, who, subscriber, False)
            subs = sub_store.subscriptions_of(session, sid) if sid is not None else []
            return {"subscriber": sid, "subscriptions": [{"id": i, **v} for i, v in subs]}

    return JSONResponse(await run_in_threadpool(read))


@router.post("/subscriptions", status_code=201, summary="Follow: add a subscription")
async def add_subscription(request: Request, body: SubscriptionBody, who: Who) -> JSONResponse:
    state = state_of(request)
    spec = SubscriptionSpec(**body.model_dump(exclude={"subscriber"}, exclude_unset=True))

    def act() -> dict:
        with session_for(state.settings.database_url) as session:
            sid = _subscriber(session, who, body.subscriber, True)
            if sid is None:
                raise HTTPException(404, f"no subscriber with id {body.subscriber}")
            mine = who.user is not None and sid == own_subscriber(session, who.user.email, who.user.name, False)  # type: ignore[arg-type]
            try:  # only the person themselves lifts a one-click unsubscribe's suppression
                return {"id": follow(session, state.catalog, sid, spec, by_self=mine), "subscriber": sid}
            except SubscriptionError as exc:
                raise HTTPException(422, str(exc)) from None

    return JSONResponse(await run_in_threadpool(act), status_code=201)


@router.delete("/subscriptions/{subscription_id}", summary="Unfollow: remove a subscription")
@router.delete("/subscriptions", summary="Unfollow: remove a subscription (?id=N)")
async def remove_subscription(request: Request, who: Who, subscription_id: int | None = None,
                              id: int | None = None, subscriber: int | None = None) -> JSONResponse:  # noqa: A002
    settings = state_of(request).settings
    target = subscription_id if subscription_id is not None else id
    if target is None:
        raise HTTPException(400, "name the subscription: DELETE /api/subscriptions/{id}")
    if not (in_range(target) and in_range(subscriber)):  # no such row: the database is never asked
        raise HTTPException(404, f"no subscription {target} of that subscriber")

    def act() -> bool:
        with session_for(settings.database_url) as session:
            sid = _subscriber(session, who, subscriber, False)
            return sid is not None and unfollow(session, sid, target)

    if not await run_in_threadpool(act):
        raise HTTPException(404, f"no subscription {target} of that subscriber")
    return JSONResponse({"removed": target})


@router.get("/returns", summary="The latest returns landed and the expected-returns calendar")
async def returns(request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    state = state_of(request)

    def read() -> dict:
        now = utcnow()
        with session_for(state.settings.database_url) as session:
            landed = recent_returns(session, limit)
            rows = calendar_now(session, state.catalog, now, state.settings.timezone)
        return {"returns": [{"id": r.id, "provider": r.provider, "name": provider_name(r.provider), "kind": r.kind,
                             "periods": list(r.periods), "status": "held" if r.held else r.status,
                             "filename": r.filename,
                             "received_at": r.received_at.isoformat() if r.received_at else None,
                             "evaluated": r.evaluated_at is not None} for r in landed],
                "calendar": [{"provider": c.provider, "kind": c.kind, "period": c.period, "due": c.due.isoformat(),
                              "status": c.status, "landed_at": c.landed_at.isoformat() if c.landed_at else None}
                             for c in rows]}

    return JSONResponse(await run_in_threadpool(read))
