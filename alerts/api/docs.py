"""The API's documentation: /openapi.json and /docs (Swagger UI), served as
KPI_ALERTS_API_DOCS says: "public", "signed_in" (the default: a web session with the
performance role or above; anyone else is sent to sign in, or refused) or "off" (404).

Swagger UI is vendored under static/swagger-ui (Makefile 'vendor'), so the page loads nothing
from another host: a council's network may block a CDN, and a signed-in page should run only our
own script. Its start-up code is our static file, not an inline script. There is no /redoc: one
documentation page is enough.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from alerts.api.state import state_of
from alerts.web.security import needs

router = APIRouter(include_in_schema=False)
_READER = needs("performance", "reading the API documentation")

SWAGGER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kpi-alerts API</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/app/swagger-init.js"></script></body></html>"""


async def _may_read(request: Request) -> None:
    mode = state_of(request).settings.api_docs
    if mode == "off":
        raise HTTPException(404, "Not Found")
    if mode == "signed_in":
        await _READER(request)


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    await _may_read(request)
    return JSONResponse(request.app.openapi(), headers={"Cache-Control": "no-store"})


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    await _may_read(request)
    return HTMLResponse(SWAGGER, headers={"Cache-Control": "no-store"})

