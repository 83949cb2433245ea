"""The API's documentation: /openapi.json, /docs (Swagger UI) and /redoc, served as
KPI_ALERTS_API_DOCS says: "public", "signed_in" (the default: a web session with the
performance role or above; anyone else is sent to sign in, or refused) or "off" (404).

The pages load Swagger UI and ReDoc from their CDN (alerts/api/headers.py allows it for these
two paths only); Swagger UI's start-up code is our static file, not an inline script.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from alerts.api.headers import CDN
from alerts.api.state import state_of
from alerts.web.security import needs

router = APIRouter(include_in_schema=False)
_READER = needs("performance", "reading the API documentation")

SWAGGER = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kpi-alerts API</title>
<link rel="stylesheet" href="{CDN}/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{CDN}/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script src="/static/app/swagger-init.js"></script></body></html>"""
REDOC = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kpi-alerts API</title></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="{CDN}/npm/redoc@2/bundles/redoc.standalone.js"></script></body></html>"""


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


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    await _may_read(request)
    return HTMLResponse(REDOC, headers={"Cache-Control": "no-store"})
