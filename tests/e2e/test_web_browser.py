"""The web app in a real browser (issue 12): Debian's Chromium driven by Playwright's Python
package (no browser download), against `kpi-alerts serve` on a loopback port, with the example
year landed and the sign-in link captured by the SMTP peer. Each page is screenshotted to
`screenshots/` (git-ignored) and checked with axe-core (tests/vendor/axe.min.js) for 0
violations of WCAG 2.2 A and AA."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.services import BIN, ApiServer, clean_env
from tests.peers import poll

pytestmark = pytest.mark.e2e
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
SHOTS = ROOT / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is not installed (make test installs it)"
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=exe, args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def accessible(page, name: str) -> None:
    """Screenshot the page, then run axe-core in it: no violations."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                          ".violations.map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target).join(' | '))",
                          WCAG)
    assert found == [], f"{name}: {found}"


def test_a_leader_signs_in_by_email_link_and_reads_the_status_board(tmp_path, landed_year_db, smtp_server, browser):
    db = tmp_path / "year.db"
    with sqlite3.connect(landed_year_db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    env = clean_env(database_url=f"sqlite:///{db}", email_url=smtp_server.apprise_url, email_from="kpi@example.org")
    added = subprocess.run([str(BIN / "kpi-alerts"), "users", "add", "lead@example.org", "--name",
                            "Commissioning lead"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    server = ApiServer(tmp_path, env)
    try:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        assert page.url.endswith("/signin")  # no session: sent to sign in
        accessible(page, "01-signin")
        page.keyboard.press("Tab")  # the skip link comes first
        assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
        page.fill("#email", "lead@example.org")
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Check your email"
        accessible(page, "02-signin-sent")
        (_, to, msg), = smtp_server.wait_for(1, timeout=30)
        assert to == ["lead@example.org"]
        html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
        link = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
        page.goto(link)
        accessible(page, "03-signin-link")
        page.click("button[type=submit]")
        poll(lambda: page.url == f"{server.url}/", 10, "the status board after signing in")
        assert page.locator("h1").inner_text() == "Status board"
        body = page.locator("main").inner_text()
        assert "Sandwell" in body and "KPIs on target" in body and "Within tolerance" in body
        accessible(page, "04-status-board")
        page.click("text=PI9 Long-term placement stability")  # a cell links to its indicator
        assert page.locator("h1").inner_text().startswith("PI9 Long-term placement stability")
        assert page.locator("svg[role=img] title").first.text_content().startswith("PI9")
        assert page.locator("table tbody tr").count() == 12  # the year, as a table too
        accessible(page, "05-indicator")
        page.goto(f"{server.url}/")
        page.click("text=Sign out")
        poll(lambda: page.url.endswith("/signin"), 10, "signed out")
        page.goto(f"{server.url}/")
        assert page.url.endswith("/signin")
    finally:
        server.stop()
    assert "Traceback" not in Path(server.log).read_text()
