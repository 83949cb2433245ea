"""Open alerts (`/alerts`): worst first, how long outside green, acknowledged or not.
Acknowledge with a note, snooze until a date: both need the performance role (a viewer reads);
both go through the same use cases as `kpi-alerts ack` and `kpi-alerts snooze`, so they land
in the alert's history as the CLI's do, with the role the person acted in."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.api.ids import PathId
from alerts.api.state import state_of
from alerts.store import alerts as alert_store
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.store.queries import OpenAlert, open_alerts
from alerts.usecases.acks import acknowledge, local_day_start, snooze
from alerts.web.render import problem, render
from alerts.web.security import Visitor, check_csrf, finish, needs, signed_in
from alerts.web.views import acknowledger, rule_title, value_text
from rules.catalog import Catalog
from rules.periods import period_index
from rules.vocabulary import provider_name, subject_name

router = APIRouter(include_in_schema=False)
MAX_NOTE = 2000


def who(found: Visitor) -> str:
    """How the history names the person: their name and address."""
    user = found.user
    assert user is not None
    return f"{user.name} <{user.email}>" if user.name else user.email


def role_of(found: Visitor) -> str:
    assert found.user is not None
    return found.user.role


def months_outside(alert: OpenAlert) -> int:
    return period_index(alert.period) - period_index(alert.since) + 1


@router.get("/alerts")
async def alerts_page(request: Request, found: Annotated[Visitor, Depends(signed_in)], provider: str = "",
                      state: str = "", done: str = "") -> Response:
    """`provider` and `state` (red or amber) narrow the list; a national install has hundreds."""
    app = state_of(request)

    def read() -> tuple[list[OpenAlert], list[str]]:
        with session_for(app.settings.database_url) as session:
            everyone = open_alerts(session, utcnow())
        return [a for a in everyone if (not provider or a.provider == provider) and (not state or a.state == state)], \
            sorted({a.provider for a in everyone})

    rows, providers = await run_in_threadpool(read)
    catalog = app.catalog
    shown = [{"alert": a, "name": rule_title(catalog, a.rule_id), "key": _key(catalog, a.rule_id),
              "where": subject_name(a.subject), "acked_by": acknowledger(a.acked_by, a.acked_role),
              "value": value_text(catalog, a.rule_id, a.value), "months": months_outside(a)} for a in rows]
    return render(request, "alerts.html", found, rows=shown, provider=provider, state=state, done=done,
                  today=utcnow().date().isoformat(), providers=[(p, provider_name(p)) for p in providers])


def _key(catalog: Catalog, rule_id: str) -> str:
    bound = catalog.rules_by_id.get(rule_id)
    return bound.rule.measure_key if bound else rule_id


def _back(request: Request, done: str) -> Response:
    return finish(request, RedirectResponse(f"/alerts?done={done}", status_code=303))


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(request: Request, alert_id: PathId,
                            found: Annotated[Visitor, Depends(needs("performance", "acknowledging an alert"))]
                            ) -> Response:
    form = await check_csrf(request)
    note = form.get("note", "").strip()[:MAX_NOTE] or None
    settings = state_of(request).settings

    def act() -> bool:
        with session_for(settings.database_url) as session:
            try:
                acknowledge(session, alert_id, who(found), note, utcnow(), role_of(found))
            except LookupError:
                return False
            return True

    if not await run_in_threadpool(act):
        return problem(request, found, 404, "Page not found", f"No alert has the number {alert_id}.")
    return _back(request, "acknowledged")


@router.post("/alerts/{alert_id}/snooze")
async def snooze_alert(request: Request, alert_id: PathId,
                       found: Annotated[Visitor, Depends(needs("performance", "snoozing an alert"))]) -> Response:
    form = await check_csrf(request)
    state = state_of(request)
    try:
        day = dt.date.fromisoformat(form.get("until", "").strip())
    except ValueError:
        return problem(request, found, 400, "Enter a date",
                       "Snooze until needs a date as YYYY-MM-DD, for example 2026-12-31. Go back and try again.")

    def act() -> str | None:
        with session_for(state.settings.database_url) as session:
            alert = alert_store.get(session, alert_id)
            if alert is None:
                return f"No alert has the number {alert_id}."
            try:
                snooze(session, state.catalog, alert.rule_id, local_day_start(day, state.settings.timezone),
                       utcnow(), alert.subject, who(found), role_of(found))
            except (LookupError, ValueError):
                return "The date to snooze until must be after today."
            return None

    why = await run_in_threadpool(act)
    if why:
        return problem(request, found, 400, "Cannot snooze that alert", why)
    return _back(request, "snoozed")
