"""Issue 18, headers and surfaces: the security headers on every response of every route (and a
404, a static file, a 500), no inline script on any page, the API documentation behind
KPI_ALERTS_API_DOCS, /metrics behind KPI_ALERTS_METRICS_ALLOW or on KPI_ALERTS_METRICS_PORT."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import httpx2
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

import alerts.web
from alerts.api.metrics import serve_metrics
from tests.api.web_helpers import person
from tests.peers import free_port

SAMPLE = {"id": "1", "key": "PI1", "name": "x", "code": "PI1", "provider": "sandwell", "rule": "x", "subject": "x"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def check_headers(res: httpx2.Response, https: bool) -> None:
    where = f"{res.request.method} {res.request.url.path} ({res.status_code})"
    csp = res.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, where
    if res.request.url.path == "/me/digest-preview" and res.status_code == 200:  # framed by /me only
        assert directives.get("frame-ancestors") == ["'self'"] and "sandbox" in directives, where
        assert res.headers.get("x-frame-options") == "SAMEORIGIN", where
    else:
        assert directives.get("frame-ancestors") == ["'none'"], where
        assert res.headers.get("x-frame-options") == "DENY", where
    assert res.headers.get("x-content-type-options") == "nosniff", where
    # the unsubscribe page (a token in its URL) keeps its stricter no-referrer
    assert res.headers.get("referrer-policy") in ({"same-origin", "no-referrer"} if "unsubscribe" in where
                                                  else {"same-origin"}), where
    if https:
        assert res.headers.get("strict-transport-security", "").startswith("max-age="), where
    else:
        assert "strict-transport-security" not in res.headers, where
    if res.headers.get("content-type", "").startswith("text/html"):
        assert not INLINE_SCRIPT.search(res.text), f"{where}: inline <script>"
        assert not HANDLER.search(res.text), f"{where}: an on* event handler attribute"


def all_routes(routes: list, prefix: str = "") -> list:
    """Every route, those of included routers too (FastAPI keeps an included router whole)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += all_routes(route.original_router.routes, prefix + getattr(route.include_context, "prefix", ""))
        else:
            found.append((prefix, route))
    return found


def every_request(app) -> list[tuple[str, str]]:  # noqa: ANN001
    found = []
    for prefix, route in all_routes(app.routes):
        if isinstance(route, APIRoute):
            path = prefix + re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m[1], "1"), route.path)
            found += [(method, path) for method in sorted(route.methods)]
        elif isinstance(route, Mount):
            found.append(("GET", route.path + ("/govuk-frontend.min.css" if "govuk" in route.path else "/kpi.css")))
    return found


@pytest.mark.parametrize("https", [True, False])
def test_every_route_a_404_a_static_file_and_a_500_carry_the_security_headers(make_api, https):
    api = make_api(base_url="https://kpi.example.org" if https else "http://kpi.example.org")
    admin = person(api, "admin@example.org", "admin")
    anonymous = TestClient(api.client.app, base_url="https://testserver", raise_server_exceptions=False)
    requests = every_request(api.client.app)
    assert ("GET", "/static/app/kpi.css") in requests and ("GET", "/") in requests and len(requests) > 30
    seen = set()
    for client in (admin, anonymous):
        for method, path in requests:
            data = {"csrf": "x"} if method == "POST" else None
            res = client.request(method, path, data=data, follow_redirects=False)
            check_headers(res, https)
            seen.add(res.status_code)
        check_headers(client.get("/no-such-page"), https)
    assert {200, 303, 404} <= seen

    @api.client.app.get("/boom-for-the-test")
    def boom() -> None:
        raise RuntimeError("a bug")

    failed = anonymous.get("/boom-for-the-test")
    assert failed.status_code == 500
    check_headers(failed, https)
    assert admin.get("/no-such-page").status_code == 404
    assert admin.get("/static/app/kpi.css").status_code == 200


def test_no_template_has_inline_script_or_an_event_handler():
    """Pages the route walk does not reach with content (a held return, an upload's result) too."""
    templates = list((Path(alerts.web.__file__).parent / "templates").glob("*.html"))
    assert len(templates) > 10
    for template in templates:
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text) and not HANDLER.search(text), template.name
        assert "javascript:" not in text.lower() and " style=" not in text, template.name  # style-src 'self'


def test_hsts_follows_the_base_url_never_a_request_header(make_api):
    api = make_api(base_url="http://kpi.example.org")
    client = TestClient(api.client.app, base_url="https://testserver")
    res = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "Forwarded": "proto=https"})
    assert res.status_code == 200 and "strict-transport-security" not in res.headers


# -- the API documentation --------------------------------------------------------------------

DOCS = ("/openapi.json", "/docs")
ASSET = re.compile(r'\b(?:src|href)="([^"]*)"')
TYPES = {".js": "text/javascript", ".css": "text/css"}


def test_the_api_documentation_needs_the_performance_role_by_default(web):
    anonymous = TestClient(web.client.app, base_url="https://testserver")
    viewer = person(web, "viewer@example.org", "viewer")
    performance = person(web, "performance@example.org", "performance")
    for path in DOCS:
        got = anonymous.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"].startswith("/signin"), path
        assert viewer.get(path, follow_redirects=False).status_code == 403, path
        assert performance.get(path).status_code == 200, path
    assert "/api/returns" in performance.get("/openapi.json").json()["paths"]
    swagger = performance.get("/docs").text
    assert '<script src="/static/app/swagger-init.js">' in swagger and not INLINE_SCRIPT.search(swagger)
    assert performance.get("/static/app/swagger-init.js").status_code == 200
    assert performance.get("/redoc").status_code == 404  # one documentation page: Swagger UI


def csp_of(res: httpx2.Response) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in res.headers["content-security-policy"].split(";"))}


def test_the_docs_page_loads_only_same_origin_assets_under_a_csp_naming_no_other_host(web):
    """Swagger UI is vendored (static/swagger-ui): no CDN a council's network may block, no
    third-party script in a signed-in page."""
    performance = person(web, "performance@example.org", "performance")
    page = performance.get("/docs")
    assets = ASSET.findall(page.text)
    assert {"/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css"} <= set(assets)
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        got = performance.get(url)
        assert got.status_code == 200 and len(got.content) > 100, url
        assert got.headers["content-type"].split(";")[0] == TYPES[Path(url).suffix], url
    found = csp_of(page)
    assert all(s.startswith("'") or s == "data:" for values in found.values() for s in values), found  # no host
    assert found["script-src"] == ["'self'"] and found["style-src"] == ["'self'"]  # no inline script or style
    version = (Path(alerts.web.__file__).parent / "static" / "swagger-ui" / "VERSION").read_text()
    assert version.startswith("swagger-ui-dist 5.") and "Apache-2.0" in version


def test_the_api_documentation_public_or_off(make_api):
    public = TestClient(make_api("public.db", api_docs="public").client.app)
    off = make_api("off.db", api_docs="off")
    admin = person(off, "admin@example.org", "admin")
    for path in DOCS:
        assert public.get(path).status_code == 200, path
        assert admin.get(path).status_code == 404, path


# -- /metrics ---------------------------------------------------------------------------------

def scrape(api, host: str) -> httpx2.Response:  # noqa: ANN001
    return TestClient(api.client.app, client=(host, 50000)).get("/metrics")


def test_metrics_answer_loopback_by_default_and_no_one_else(api):
    for host in ("127.0.0.1", "127.0.0.9", "::1"):
        res = scrape(api, host)
        assert res.status_code == 200 and "kpi_alerts_queue_depth" in res.text, host
    for host in ("203.0.113.5", "10.0.0.1", "::2", "testclient"):
        assert scrape(api, host).status_code == 404, host
    refused = TestClient(api.client.app, client=("203.0.113.5", 1)).get(
        "/metrics", headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"})
    assert refused.status_code == 404  # the TCP peer decides, never a header


def test_metrics_allow_list_names_the_networks(make_api):
    api = make_api(metrics_allow="10.1.0.0/16, 2001:db8::/32")
    assert scrape(api, "10.1.2.3").status_code == 200
    assert scrape(api, "2001:db8::7").status_code == 200
    assert scrape(api, "127.0.0.1").status_code == 404
    assert scrape(api, "10.2.0.1").status_code == 404


def test_a_bad_allow_list_is_refused_by_name(make_settings):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="KPI_ALERTS_METRICS_ALLOW"):
        make_settings(metrics_allow="10.0.0.0/33")


def test_with_a_metrics_port_metrics_are_served_there_and_not_on_the_app(make_api):
    port = free_port()
    api = make_api(metrics_port=port)
    assert scrape(api, "127.0.0.1").status_code == 404
    state = api.client.app.state.api
    server = serve_metrics(api.settings, state.metrics, state.broker)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as res:  # noqa: S310
            text = res.read().decode()
        assert "kpi_alerts_queue_depth" in text and "kpi_alerts_returns_stored" in text
    finally:
        server.shutdown()
        server.server_close()
