"""Returns: `/returns` lists the latest landed returns and the expected-returns calendar
(submitted, late, missing); `/returns/new` (performance role) uploads one through the same
ingest use case as the CLI and `POST /api/returns`: a rejected file shows every
FILE:ROW:COLUMN problem in a table and nothing is stored; an accepted one shows what changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from alerts.api.state import state_of
from alerts.api.uploads import Refused, read_return
from alerts.cli.json_output import ingest_json
from alerts.notify.wording import provider_name
from alerts.store.db import session_for
from alerts.store.landing import recent_returns
from alerts.store.models import utcnow
from alerts.usecases.expected import calendar_now
from alerts.usecases.ingest import ReturnLimits, ingest_bytes
from alerts.web.render import render
from alerts.web.security import CSRF_COOKIE, CSRF_FIELD, Visitor, needs, same_token, signed_in
from alerts.web.views import RETURN_TAGS, RETURN_WORDS, calendar_grid, landed_summary, split_problem
from rules.calendar import KIND_NAMES

router = APIRouter(include_in_schema=False)
UPLOAD = "/returns/new"


@router.get("/returns")
async def returns_page(request: Request, found: Annotated[Visitor, Depends(signed_in)]) -> Response:
    state = state_of(request)

    def read() -> tuple[list, tuple]:
        now = utcnow()
        with session_for(state.settings.database_url) as session:
            landed = recent_returns(session, 50)
            rows = calendar_now(session, state.catalog, now, state.settings.timezone)
        return landed, calendar_grid(rows)

    landed, (periods, lines) = await run_in_threadpool(read)
    return render(request, "returns.html", found, landed=landed, periods=periods, lines=lines, words=RETURN_WORDS,
                  tags=RETURN_TAGS, provider_name=provider_name,
                  kinds={k: v[:1].upper() + v[1:] for k, v in KIND_NAMES.items()})


@router.get(UPLOAD)
async def upload_form(request: Request,
                      found: Annotated[Visitor, Depends(needs("performance", "uploading a return"))]) -> Response:
    return render(request, "upload.html", found, errors=None, result=None, file=None)


@router.post(UPLOAD)
async def upload(request: Request,
                 found: Annotated[Visitor, Depends(needs("performance", "uploading a return"))]) -> Response:
    """CSRF is checked on the multipart form itself (its `csrf` field), then the file is landed."""
    state = state_of(request)
    settings = state.settings
    form = await request.form(max_files=1, max_fields=10)  # BodyLimit stops an oversized body (413)
    try:
        sent = form.get(CSRF_FIELD)
        if not same_token(sent, request.cookies.get(CSRF_COOKIE, "")):
            return render(request, "upload.html", found, 403, errors=[("", "", "The form's security token is "
                          "missing or out of date: reload the page and try again.")], result=None, file=None)
        read = await read_return(form, settings.max_upload_mb, "Choose a file to upload", need_name=True)
    finally:
        await form.close()
    if isinstance(read, Refused):
        return render(request, "upload.html", found, read.status, errors=[("", "", read.detail)], result=None,
                      file=read.name)
    name, data = read

    def land():  # noqa: ANN202
        with session_for(settings.database_url) as session:
            return ingest_bytes(session, state.catalog, name, data, state.dispatcher.evaluate, utcnow(), 0.0,
                                limits=ReturnLimits.of(settings), in_flight_seconds=settings.relay_stale_seconds)

    result = await run_in_threadpool(land)
    if result.landed is None:
        state.metrics.rejected.labels(result.rejected_kind or "unknown").inc()
        return render(request, "upload.html", found, 422, errors=[split_problem(e, name) for e in result.errors],
                      result=None, file=name)
    body = ingest_json(state.catalog, result)
    state.metrics.landed.labels(result.landed.kind, body["return"]["status"]).inc()
    return render(request, "upload.html", found, errors=None, result=body, file=name,
                  summary=landed_summary(state.catalog, body), pending=not result.evaluated,
                  failed=result.evaluation_failed)
