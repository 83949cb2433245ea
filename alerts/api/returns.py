"""`POST /api/returns`: a return uploaded as the multipart form field `file`, with a bearer
token. Landed by the process's one intake, as the command line lands it (parse -> land in one
transaction -> dispatch the evaluation), in the threadpool: it blocks on the database.

201 `ingest --json`'s object once stored (`accepted` or `restated`; `?wait=S` waits up to S
seconds for a worker's evaluation; in-process it is evaluated before the answer anyway);
202 the same object with `"status": "held"` and its `"queries"` for a return stored but held
until someone confirms it (the performance team is emailed the link, once); 200 the same
object for a byte-identical duplicate; 422 `{"errors": [...]}` for a rejected
return, nothing stored; 401 no valid token; 413 over KPI_ALERTS_MAX_UPLOAD_MB; 415 not CSV,
XLSX or JSON; 400 a request that is not a form with a `file`.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from alerts.api.auth import bearer_token
from alerts.api.filetypes import ACCEPTED
from alerts.api.limits import TooLarge, too_large_detail
from alerts.api.state import state_of
from alerts.api.uploads import Refused, read_return
from alerts.steps import tell
from alerts.store.tokens import TokenMatch
from alerts.usecases.intake import Duplicate, Held, Rejected
from alerts.usecases.intake_json import intake_json

router = APIRouter(tags=["returns"])
log = logging.getLogger(__name__)

MAX_WAIT = 300.0  # seconds a request may wait for a worker's evaluation
PATH = "/api/returns"

_EXAMPLE = {"return": {"id": 7, "provider": "sandwell", "kind": "kpi", "periods": ["2024-10"], "status": "accepted",
                       "evaluation": "done", "evaluation_error": None},
            "evaluations": [{"rule": "single_assessments_45wd", "indicator": "single_assessments_45wd",
                             "code": "PI1", "suite": "2024", "subject": "sandwell", "period": "2024-10",
                             "value": 68.8, "rating": "red"}],
            "transitions": [{"rule": "single_assessments_45wd", "subject": "sandwell", "from": "amber",
                             "to": "red", "kind": "escalated", "period": "2024-10"}],
            "not_reported": ["cwd_assessment_updated_12m"]}


def _detail(example: str) -> dict:
    return {"application/json": {"example": {"detail": example}}}


RESPONSES: dict[int | str, dict] = {
    201: {"description": "Stored (`accepted` or `restated`): the object `kpi-alerts ingest --json` prints",
          "content": {"application/json": {"example": _EXAMPLE}}},
    202: {"description": "Stored but held: its queries (a value far outside its own history, last month's "
                         "figures relabelled) await confirmation in the web app; nothing is rated or sent until "
                         "then (after KPI_ALERTS_QUERY_HOLD_HOURS it is released, marked not confirmed)",
          "content": {"application/json": {"example": {
              "status": "held", "return": {**_EXAMPLE["return"], "status": "held", "evaluation": "pending"},
              "evaluations": [], "transitions": [], "not_reported": [],
              "queries": ["kpi-2025-04.csv:2:value: query: 18.6 is far outside PI1's last 12 months (68.8 to 86.4); "
                          "confirm it or send a corrected file"]}}}},
    200: {"description": "A byte-identical duplicate: nothing changed (empty lists)"},
    400: {"description": "Not a multipart form with a `file` field, or a bad `wait`"},
    401: {"description": "No valid token", "content": _detail("invalid or revoked API token")},
    413: {"description": "Over KPI_ALERTS_MAX_UPLOAD_MB", "content": _detail(too_large_detail(20))},
    415: {"description": "None of CSV, XLSX, JSON", "content": _detail(f"expected {ACCEPTED}")},
    422: {"description": "Rejected: every problem as FILE:ROW:COLUMN: message; nothing stored",
          "content": {"application/json": {"example": {"errors": [
              "kpi-2024-05.csv:7:value: expected a number, got 'abc'"]}}}},
}
REQUEST_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": f"The return: {ACCEPTED}"}}}}}}


def _tell(settings) -> None:  # noqa: ANN001
    """After the answer: the performance team's email about a held return (a failure is logged;
    beat's holds step tries again)."""
    try:
        tell(settings)
    except Exception:
        log.warning("the performance team could not be told of a held return now; the holds step retries",
                    exc_info=True)


@router.post(PATH, status_code=201, summary="Upload a return", responses=RESPONSES,
             openapi_extra={"requestBody": REQUEST_BODY})
async def upload_return(
    request: Request,
    token: Annotated[TokenMatch, Depends(bearer_token)],
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, allow_inf_nan=False,
                                 description="Seconds to wait for a worker's evaluation (broker mode)")] = 0.0,
) -> JSONResponse:
    state = state_of(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise HTTPException(415, f"send the return as multipart/form-data, in the field 'file' ({ACCEPTED})")
    form = await request.form(max_files=1, max_fields=10)  # BodyLimit stops it at the limit (413)
    try:
        found = await read_return(form, state.settings.max_upload_mb,
                                  "no file: send the return in the multipart form field 'file'")
    finally:
        await form.close()
    if isinstance(found, Refused):
        raise TooLarge(found.detail) if found.status == 413 else HTTPException(found.status, found.detail)
    name, data = found
    result = await run_in_threadpool(partial(state.intake.land, name, data, wait=wait, token_id=token.id))
    match result:
        case Rejected(errors=errors, kind=kind):
            state.metrics.rejected.labels(kind or "unknown").inc()
            return JSONResponse({"errors": list(errors)}, status_code=422)
        case Held():  # nobody saw its queries land: the performance team is emailed, once, after the answer
            code, after = 202, BackgroundTask(_tell, state.settings)
        case Duplicate():
            code, after = 200, None
        case _:  # stored: evaluated, or pending (failed, deferred, queued)
            code, after = 201, None
    state.metrics.landed.labels(result.landed.kind, result.status).inc()
    return JSONResponse(intake_json(state.catalog, result), status_code=code, background=after)
