"""/docs in a real browser (Debian's Chromium, Playwright's Python package): Swagger UI, vendored
under static/swagger-ui, renders the operations list under the page's own CSP, with no CSP
violation and no request leaving 127.0.0.1 (every other request is blocked and recorded)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.e2e.services import ApiServer, clean_env
from tests.e2e.test_web_browser import browser  # noqa: F401  (the fixture)
from tests.peers import poll

pytestmark = pytest.mark.e2e


def test_docs_renders_swagger_ui_from_this_origin_only(tmp_path, browser):  # noqa: F811 (the fixture)
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'docs.db'}", api_docs="public")
    server = ApiServer(tmp_path, env)
    left, violations, failed = [], [], []
    try:
        context = browser.new_context()  # the page's own CSP applies

        def keep_local(route) -> None:  # noqa: ANN001
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                left.append(route.request.url)
                route.abort()

        context.route("**/*", keep_local)
        context.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))")
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock-summary-path", has_text="/api/returns").count() >= 1
        page.locator(".opblock-summary").first.click()  # expanding an operation renders more of the UI
        page.wait_for_selector(".opblock-body", timeout=10_000)
        page.locator(".try-out__btn").first.click()  # and its form
        page.wait_for_selector(".execute", timeout=10_000)
        page.locator("section.models .json-schema-2020-12-expand-deep-button").first.click()  # a schema, opened
        page.wait_for_selector("section.models .json-schema-2020-12-property", timeout=10_000)
        poll(lambda: page.evaluate("document.readyState") == "complete", 10, "the docs page loaded")
        violations += page.evaluate("window.__csp")
        page.close()
    finally:
        server.stop()
    assert left == [] and violations == [] and failed == [], (left, violations, failed)
