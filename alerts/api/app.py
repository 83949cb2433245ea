"""The app factory: `create_app(settings)` -> a FastAPI app (OpenAPI at /docs, as KPI_ALERTS_API_DOCS
says: alerts/api/docs.py), every response with the security headers (alerts/api/headers.py)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from alerts.api.broker import client as broker_client
from alerts.api.docs import router as docs
from alerts.api.guessing import FailureLimiter
from alerts.api.headers import SecurityHeaders
from alerts.api.health import router as health
from alerts.api.ids import out_of_range
from alerts.api.leaders import router as leaders
from alerts.api.limits import ENVELOPE, BodyLimit, too_large_detail
from alerts.api.metrics import Metrics
from alerts.api.metrics import router as metrics
from alerts.api.returns import PATH as UPLOAD_PATH
from alerts.api.returns import router as returns
from alerts.api.state import ApiState
from alerts.api.timing import ExpireAfterWrites, ServerTiming
from alerts.api.unsubscribe import router as unsubscribe
from alerts.steps import dispatcher_for
from alerts.store import db
from alerts.web import routers as web_routers
from alerts.web.render import STATIC, problem
from alerts.web.return_pages import UPLOAD as WEB_UPLOAD
from alerts.web.security import NotAllowed, SessionCache, SignInRequired, visitor
from alerts.web.signin_pages import signin_for
from config import Settings
from rules.loader import load_catalog

log = logging.getLogger(__name__)


def prepare_database(url: str) -> None:
    """The schema as every process gets it today (create_schema, from get_engine), then, once
    migrations exist, a refusal to serve a database not at the latest revision."""
    db.get_engine(url)
    require_latest = getattr(db, "require_latest", None)  # added with the Alembic migrations
    if require_latest is not None:
        require_latest(url)


class App(FastAPI):
    """FastAPI with SecurityHeaders outermost: around Starlette's error middleware too, so
    a 500 carries the headers like every other response."""

    def __init__(self, *, https: bool, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.https = https

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.https)


def create_app(settings: Settings) -> FastAPI:
    """Raises PackError for rule packs with problems (`kpi-alerts serve` reports them and
    exits): the service never runs on a pack that fails `rules check`."""
    catalog = load_catalog(settings.rules_dir)
    prepare_database(settings.database_url)
    app = App(https=settings.base_url.lower().startswith("https://"), docs_url=None, redoc_url=None,
              openapi_url=None, title="kpi-alerts", version="0.1.0",
              description="Returns land over HTTP; one-click unsubscribe; health and metrics; the leaders' "
                          "web pages and their JSON API (sign in by email link or a bearer token).",
              redirect_slashes=False)  # Starlette's '/x/' -> '/x' redirect is absolute, from the Host header
    app.state.api = ApiState(settings=settings, catalog=catalog, dispatcher=dispatcher_for(settings),
                             metrics=Metrics(), broker=broker_client(settings.broker_url), sessions=SessionCache(),
                             failures=FailureLimiter(settings),
                             mailer=ThreadPoolExecutor(max_workers=2, thread_name_prefix="signin-mail"))
    for router in (returns, leaders, unsubscribe, health, metrics, docs, *web_routers()):
        app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=Path(__file__).parent.parent / "web" / "static" / "govuk-frontend"),
              name="govuk-frontend")
    app.mount("/static/app", StaticFiles(directory=Path(__file__).parent.parent / "web" / "static" / "app"),
              name="app-static")
    # Swagger UI for /docs (alerts/api/docs.py), vendored by the Makefile's 'vendor'
    app.mount("/static/swagger-ui", StaticFiles(directory=Path(__file__).parent.parent / "web" / "static"
                                                / "swagger-ui"), name="swagger-ui")
    limit = int(settings.max_upload_mb * 1024 * 1024) + ENVELOPE
    detail = too_large_detail(settings.max_upload_mb)
    app.add_middleware(BodyLimit, uploads={UPLOAD_PATH: (limit, detail), WEB_UPLOAD: (limit, detail)})
    app.add_middleware(ExpireAfterWrites, expire=app.state.api.snapshot.expire)
    app.add_middleware(ServerTiming)
    if settings.trusted_hosts:  # outermost: a request for another host is answered 400 before anything runs
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts, www_redirect=False)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """A malformed request is 400 with a plain message; 422 means a rejected return. An id
        out of range in a path or query (ids.PathId: 0, or beyond a database integer) names no
        row: 404."""
        if exc.errors() and all(out_of_range(e) for e in exc.errors()):
            detail = "; ".join(f"no such {e['loc'][-1]}: {e.get('input')}" for e in exc.errors())
            return JSONResponse({"detail": detail}, status_code=404)
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()) )}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems) or "bad request"}, status_code=400)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(signin_for(request), status_code=303)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        return problem(request, await visitor(request), 403, "You cannot do that",
                       f"{exc.what[:1].upper()}{exc.what[1:]} needs the {exc.role} role. Your role is "
                       f"{exc.held}: ask an admin if you need more.")

    return app
