"""Returns: `/returns` lists the latest landed returns and the expected-returns calendar
(submitted, late, missing); `/returns/new` (performance role) uploads one through the same
ingest use case as the CLI and `POST /api/returns`: a rejected file shows every
FILE:ROW:COLUMN problem in a table and nothing is stored; an accepted one shows what changed; a
held one (queries) shows every query in a table, a Confirm button and a corrected file's upload.
`/returns/{id}` is one return (the link the performance team is emailed for a held one);
`POST /returns/{id}/confirm` (performance role) confirms a held return's figures."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.api.ids import PathId
from alerts.api.state import state_of
from alerts.api.uploads import Refused, read_return
from alerts.events import Landed
from alerts.notify.held import hours
from alerts.store.db import session_for
from alerts.store.landing import StoredReturn, get_return, recent_returns
from alerts.store.models import utcnow
from alerts.usecases.evaluate import load_outcome
from alerts.usecases.expected import calendar_now
from alerts.usecases.holds import NotHeld
from alerts.usecases.ingest import query_lines
from alerts.usecases.intake import Duplicate, Held, LandedEvaluated, LandedPending, Rejected
from alerts.usecases.intake_json import intake_json
from alerts.web.render import problem, render
from alerts.web.security import CSRF_COOKIE, CSRF_FIELD, Visitor, check_csrf, finish, needs, same_token, signed_in
from alerts.web.views import RETURN_TAGS, RETURN_WORDS, calendar_grid, landed_summary, split_problem
from rules.vocabulary import KIND_NAMES, provider_name

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

    # told: the uploader sees any queries here
    result = await run_in_threadpool(partial(state.intake.land, name, data, told=True))
    pending, failed = False, None
    match result:
        case Rejected(errors=errors, kind=kind):
            state.metrics.rejected.labels(kind or "unknown").inc()
            return render(request, "upload.html", found, 422, errors=[split_problem(e, name) for e in errors],
                          result=None, file=name)
        case Held(landed=landed, queries=queries):
            state.metrics.landed.labels(landed.kind, result.status).inc()
            return render(request, "upload.html", found, 202, errors=None, result=None, file=name,
                          held=held_view(state.catalog, landed, name, list(queries), settings.query_hold_hours))
        case LandedPending(reason=reason, detail=detail):
            pending, failed = True, detail if reason == "failed" else None
        case Duplicate(evaluated=done):
            pending = not done
        case LandedEvaluated():
            pass
    state.metrics.landed.labels(result.landed.kind, result.status).inc()
    body = intake_json(state.catalog, result)
    return render(request, "upload.html", found, errors=None, result=body, file=name,
                  summary=landed_summary(state.catalog, body), pending=pending, failed=failed)


def _title(catalog, landed: Landed | StoredReturn) -> str:  # noqa: ANN001
    return landed_summary(catalog, {"return": {"provider": landed.provider, "kind": landed.kind,
                                               "periods": list(landed.periods)},
                                    "transitions": [], "evaluations": []})["title"]


def held_view(catalog, landed: Landed | StoredReturn, file: str, queries: list[str],  # noqa: ANN001
              hold_hours: float) -> dict:
    """What return_held.html shows: the queries as (row, column, message) of the file."""
    rows = [split_problem(line, file) for line in queries]
    return {"id": landed.return_id if isinstance(landed, Landed) else landed.id, "file": file,
            "title": _title(catalog, landed), "hold": hours(hold_hours),
            "queries": [(row, column, message.removeprefix("query: ")) for row, column, message in rows]}


def _status(rec: StoredReturn) -> str:
    if rec.superseded_by is not None and rec.evaluated_at is None:
        return f"Replaced by a corrected file (return {rec.superseded_by}) while it was held: never rated"
    if rec.held:
        return "Held: its queries await confirmation"
    if rec.evaluated_at is None:
        return f"{rec.status.capitalize()}, awaiting evaluation"
    if rec.unconfirmed:
        return f"{rec.status.capitalize()} and rated; released unconfirmed when its hold ran out"
    return f"{rec.status.capitalize()} and rated"


@router.get("/returns/{return_id}")
async def return_page(request: Request, return_id: PathId, found: Annotated[Visitor, Depends(signed_in)]) -> Response:
    """One return: a held one with its queries (Confirm, or upload a corrected file); a rated one
    with what it changed and every value rated."""
    return await _show(request, found, return_id)


async def _show(request: Request, found: Visitor, return_id: int, error: str | None = None,
                code: int = 200) -> Response:
    state = state_of(request)

    def read() -> tuple[StoredReturn | None, dict | None]:
        with session_for(state.settings.database_url) as session:
            rec = get_return(session, return_id)
            if rec is None or rec.evaluated_at is None:
                return rec, None
            outcome = load_outcome(session, return_id, state.catalog)
        landed = Landed(rec.id, rec.status, rec.provider, rec.kind, rec.periods)
        return rec, intake_json(state.catalog, LandedEvaluated(rec.filename, landed, outcome))

    rec, body = await run_in_threadpool(read)
    if rec is None:
        return problem(request, found, 404, "Return not found", f"There is no return {return_id}.")
    file = rec.filename.replace("\\", "/").rsplit("/", 1)[-1]
    lines = query_lines(file, rec)
    queries = [(row, column, message.removeprefix("query: ")) for row, column, message in
               (split_problem(line, file) for line in lines)]
    held = held_view(state.catalog, rec, file, lines, state.settings.query_hold_hours) if rec.held else None
    return render(request, "return.html", found, code, rec=rec, file=file, title=_title(state.catalog, rec),
                  state=_status(rec), queries=queries, error=error, held=held, result=body,
                  summary=landed_summary(state.catalog, body) if body else None, pending=False, failed=None)


@router.post("/returns/{return_id}/confirm")
async def confirm_return(request: Request, return_id: PathId,
                         found: Annotated[Visitor, Depends(needs("performance", "confirming a held return"))]
                         ) -> Response:
    """Confirm a held return's figures: it is released and evaluated; back to its page."""
    form = await check_csrf(request)
    state = state_of(request)
    assert found.user is not None  # needs() signed them in
    by = found.user.name or found.user.email
    note = form.get("note", "").strip()[:500] or None

    try:
        await run_in_threadpool(partial(state.intake.confirm, return_id, by, note))
    except NotHeld as exc:
        return await _show(request, found, return_id, error=str(exc), code=409)
    except LookupError:
        return problem(request, found, 404, "Return not found", f"There is no return {return_id}.")
    return finish(request, RedirectResponse(f"/returns/{return_id}", status_code=303))
