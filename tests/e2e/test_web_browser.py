"""The web app in a real browser (issue 12): Debian's Chromium driven by Playwright's Python
package (no browser download), against `kpi-alerts serve` on a loopback port, with the example
year landed and the sign-in links captured by the SMTP peer. Each page is screenshotted to
`screenshots/` (git-ignored) and checked with axe-core (tests/vendor/axe.min.js) for 0
violations of WCAG 2.2 A and AA.

The journey: a leader signs in and follows PI1 by keyboard alone; the performance officer
uploads a return with a typo (every problem in a table, nothing stored), then one with a PI1
breach; the leader's email arrives at the SMTP peer; signed out on another device, they follow
its link, sign in and land on that indicator; the performance officer acknowledges the alert
with a note (a viewer is not offered it) and the leader reads who, and in what role, on the
indicator page; then they unsubscribe from the email's own link."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.services import BIN, ApiServer, clean_env
from tests.peers import free_port, poll

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
    port = free_port()  # sign-in links point at KPI_ALERTS_BASE_URL, never at the request's host
    env = clean_env(database_url=f"sqlite:///{db}", email_url=smtp_server.apprise_url, email_from="kpi@example.org",
                    base_url=f"http://127.0.0.1:{port}")
    added = subprocess.run([str(BIN / "kpi-alerts"), "users", "add", "lead@example.org", "--name",
                            "Commissioning lead"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    server = ApiServer(tmp_path, env, port)
    try:
        page = browser.new_context(bypass_csp=True).new_page()  # the test injects axe-core
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
        bands = ("Target: 67% or more and 75% or less. Within tolerance: 62% or more and below 67%, or above 75%. "
                 "Failure: below 62%.")
        assert page.locator(".kpi-bands").inner_text().startswith(bands)  # as the contract states them
        assert page.locator("table tbody tr").first.locator("td").last.inner_text() == bands  # the same, below
        assert "Annual Review 2024-25" in page.locator(".kpi-bands").inner_text()
        notes = page.locator("details.govuk-details")
        assert not notes.locator(".govuk-details__text").is_visible()  # drafting notes: closed until asked for
        notes.locator("summary").click()
        assert "Two-sided" in notes.locator(".govuk-details__text").inner_text()
        accessible(page, "05-indicator")
        page.goto(f"{server.url}/")
        page.click("text=Sign out")
        poll(lambda: page.url.endswith("/signin"), 10, "signed out")
        page.goto(f"{server.url}/")
        assert page.url.endswith("/signin")
    finally:
        server.stop()
    assert "Traceback" not in Path(server.log).read_text()


def _year_copy(tmp_path: Path, landed_year_db: Path) -> Path:
    db = tmp_path / "year.db"
    with sqlite3.connect(landed_year_db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return db


def _users(tmp_path: Path, env: dict, *people: tuple[str, str, str]) -> None:
    for email, role, name in people:
        added = subprocess.run([str(BIN / "kpi-alerts"), "users", "add", email, "--role", role, "--name", name],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr


def _mail(smtp_server, to: str, subject: str):  # noqa: ANN202
    """The newest message to `to` whose subject holds `subject` (waiting for it)."""
    def found():  # noqa: ANN202
        with smtp_server.lock:
            hits = [m for _, rcpt, m in smtp_server.messages if to in rcpt and subject in m["Subject"]]
        return hits[-1] if hits else None
    return poll(found, 30, f"an email to {to} about {subject!r}")


def _count(smtp_server, to: str, subject: str) -> int:
    with smtp_server.lock:
        return sum(1 for _, rcpt, m in smtp_server.messages if to in rcpt and subject in m["Subject"])


def _html(msg) -> str:  # noqa: ANN001
    return next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()


def _sign_in(page, base: str, smtp_server, email: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#email", email)
    page.click("button[type=submit]")
    link = re.search(r'href="([^"]+)"', _html(_mail(smtp_server, email, "sign-in link"))).group(1)
    page.goto(link.replace("&amp;", "&"))
    page.click("button[type=submit]")
    poll(lambda: page.url == f"{base}/", 10, f"{email} signed in")


def _signed_in(browser, base: str, smtp_server, email: str):  # noqa: ANN202
    """A new browser context (cookies of its own) signed in as `email`. Pages ignore CSP there:
    the test injects axe-core into each."""
    page = browser.new_context(bypass_csp=True).new_page()
    _sign_in(page, base, smtp_server, email)
    return page


def _upload(page, file: Path, *rows: str) -> None:
    """Choose a KPI return of these rows on the upload page and send it."""
    file.write_text("\n".join(["provider,period,indicator,value", *rows]) + "\n")
    page.set_input_files("#file", str(file))
    page.click("main form button[type=submit]")


def _tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never took the focus by Tab")


def test_follow_upload_notify_acknowledge_unsubscribe(tmp_path, landed_year_db, smtp_server, browser):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(database_url=f"sqlite:///{_year_copy(tmp_path, landed_year_db)}", base_url=base,
                    email_url=smtp_server.apprise_url, email_from="kpi@example.org")
    _users(tmp_path, env, ("lead@example.org", "viewer", "Commissioning lead"),
           ("perf@example.org", "performance", "Performance officer"), ("admin@example.org", "admin", "Admin"))
    server = ApiServer(tmp_path, env, port)
    try:
        lead = _signed_in(browser, base, smtp_server, "lead@example.org")
        lead.goto(f"{base}/me")
        accessible(lead, "10-me-empty")
        # keyboard alone: Tab to the indicator list, arrow to PI1, Tab to Follow, Enter
        _tab_to(lead, "#indicators")
        for _ in range(40):
            if lead.evaluate("document.activeElement.value") == "single_assessments_45wd":
                break
            lead.keyboard.press("ArrowDown")
        assert lead.evaluate("document.activeElement.value") == "single_assessments_45wd"
        _tab_to(lead, "#sev-amber")  # the severity radios: amber and red, the default kept
        _tab_to(lead, "form[action='/me/subscriptions'] button[type=submit]")
        lead.keyboard.press("Enter")
        poll(lambda: "Followed: the next notification uses it." in lead.locator("main").inner_text(), 10, "followed")
        assert "PI1 Single assessments completed within 45 working days" in lead.locator("main").inner_text()
        accessible(lead, "11-me-following")

        perf = _signed_in(browser, base, smtp_server, "perf@example.org")
        perf.goto(f"{base}/returns/new")
        accessible(perf, "12-upload")
        _upload(perf, tmp_path / "kpi-2025-04.csv", "sandwell,2025-04,PI1,6O", "sandwell,2025-04,PI2,0.78")
        problems = perf.locator("#problems").inner_text()
        assert "kpi-2025-04.csv was not accepted: nothing was stored" in perf.locator("main").inner_text()
        assert "6O" in problems and "value" in problems
        accessible(perf, "13-upload-rejected")
        sent_before = len(smtp_server.messages)
        _upload(perf, tmp_path / "kpi-2025-04.csv", "sandwell,2025-04,PI1,60", "sandwell,2025-04,PI2,78")
        assert perf.locator("h1").inner_text() == "Return accepted"
        assert "opened" in perf.locator("main").inner_text()
        accessible(perf, "14-upload-accepted")
        perf.goto(f"{base}/returns")
        assert "kpi-2025-04.csv" in perf.locator("main").inner_text()
        accessible(perf, "15-returns")
        perf.goto(f"{base}/tokens")
        perf.fill("#name", "sandwell-performance")
        perf.click("main form[action='/tokens'] button[type=submit]")
        assert "it is shown only once" in perf.locator("main").inner_text()
        accessible(perf, "15b-tokens")

        alert_mail = _mail(smtp_server, "lead@example.org", "[RED] Sandwell")
        assert len(smtp_server.messages) > sent_before
        assert "60%" in alert_mail.get_body(("plain",)).get_content()
        links = re.findall(r'href="([^"]+)"', _html(alert_mail))
        pi1 = f"{base}/indicators/single_assessments_45wd?provider=sandwell"
        away = browser.new_context(bypass_csp=True).new_page()  # the leader's phone: signed out
        away.goto(pi1)  # the email's link
        assert away.url.startswith(f"{base}/signin?next=") and away.locator("h1").inner_text() == "Sign in"
        signins = _count(smtp_server, "lead@example.org", "sign-in link")
        away.fill("#email", "lead@example.org")
        away.click("main button[type=submit]")
        poll(lambda: _count(smtp_server, "lead@example.org", "sign-in link") > signins, 30, "a new sign-in email")
        away.goto(re.search(r'href="([^"]+)"', _html(_mail(smtp_server, "lead@example.org", "sign-in link"))
                            ).group(1).replace("&amp;", "&"))
        away.click("main button[type=submit]")
        poll(lambda: away.url == pi1, 10, "landed on the indicator the email named")
        assert away.locator("h1").inner_text() == "PI1 Single assessments completed within 45 working days"
        away.context.close()
        for wanted, heading in ((f"{base}/status", "Status board"),
                                (f"{base}/indicators/single_assessments_45wd?provider=sandwell",
                                 "PI1 Single assessments completed within 45 working days")):
            assert wanted in [u.replace("&amp;", "&") for u in links], (wanted, links)
            lead.goto(wanted)  # every link a message carries opens a page
            assert lead.locator("h1").inner_text() == heading
        lead.goto(f"{base}/alerts")
        accessible(lead, "16-alerts")
        assert lead.locator("main button", has_text="Acknowledge").count() == 0  # a viewer reads
        perf.goto(f"{base}/alerts")
        card = perf.locator(".govuk-summary-card", has_text="PI1 Single assessments")
        card.locator("textarea").fill("Recovery plan agreed with the trust on 3 December")
        card.locator("button", has_text="Acknowledge").click()
        poll(lambda: "done=acknowledged" in perf.url, 10, "acknowledged")
        accessible(perf, "17-alerts-acknowledged")
        lead.goto(f"{base}/indicators/single_assessments_45wd?provider=sandwell")
        history = lead.locator("main").inner_text()
        note = "“Recovery plan agreed with the trust on 3 December”"
        assert f"acknowledged by Performance officer (performance team): {note}" in history
        assert lead.locator("table tbody tr").first.inner_text().startswith("2025-04")
        accessible(lead, "18-indicator-acknowledged")
        lead.emulate_media(media="print")  # printed: the chart and tables, not the navigation or forms
        assert lead.locator("svg.kpi-chart").is_visible() and lead.locator("main table").first.is_visible()
        assert not lead.locator(".govuk-service-navigation").is_visible()
        lead.screenshot(path=str(SHOTS / "18b-indicator-printed.png"), full_page=True)
        lead.emulate_media(media="screen")
        lead.goto(f"{base}/?provider=sandwell")
        accessible(lead, "19-board-one-provider")

        unsubscribe = re.search(r"<([^>]+)>", alert_mail["List-Unsubscribe"]).group(1)
        assert unsubscribe.startswith(f"{base}/unsubscribe?token=")
        lead.goto(unsubscribe)
        accessible(lead, "20-unsubscribe")
        lead.locator("main button[type=submit]").click()
        assert "unsubscribed" in lead.locator("main").inner_text().lower()
        accessible(lead, "21-unsubscribed")
        lead.goto(f"{base}/me")
        assert "Nothing yet" in lead.locator("main").inner_text()

        perf.goto(f"{base}/returns/new")
        _upload(perf, tmp_path / "kpi-walsall-2025-04.csv", "walsall,2025-04,PI1,91", "walsall,2025-04,PI2,66")
        assert perf.locator("h1").inner_text() == "Return accepted"
        lead.goto(f"{base}/")  # two providers: the grid of providers by KPI
        grid = lead.locator("table.kpi-grid")
        assert grid.locator("tbody tr").count() == 2 and "Walsall" in grid.inner_text()
        accessible(lead, "24-board-grid")
        lead.goto(f"{base}/?rating=red")
        assert "Sandwell" in lead.locator("main").inner_text()
        accessible(lead, "25-board-filtered")

        admin = _signed_in(browser, base, smtp_server, "admin@example.org")
        admin.goto(f"{base}/admin/users")
        accessible(admin, "22-admin-users")
        lead.goto(f"{base}/admin/users")
        assert lead.locator("h1").inner_text() == "You cannot do that"
        accessible(lead, "23-forbidden")
    finally:
        server.stop()
    assert "Traceback" not in Path(server.log).read_text()


def test_pages_work_under_their_content_security_policy(tmp_path, landed_year_db, smtp_server, browser):
    """The CSP enforced (no bypass): every page's styles load, nothing is refused (the browser
    reports each violation) and /me frames its digest preview."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(database_url=f"sqlite:///{_year_copy(tmp_path, landed_year_db)}", base_url=base,
                    email_url=smtp_server.apprise_url, email_from="kpi@example.org")
    _users(tmp_path, env, ("perf@example.org", "performance", "Performance officer"))
    server = ApiServer(tmp_path, env, port)
    try:
        page = browser.new_context().new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                             "console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))")
        _sign_in(page, base, smtp_server, "perf@example.org")
        poll(lambda: page.url == f"{base}/", 10, "signed in")
        for path in ("/", "/alerts", "/returns", "/returns/new", "/tokens", "/me"):
            page.goto(f"{base}{path}")
            font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
            assert "GDS Transport" in font or "arial" in font.lower(), f"{path}: GOV.UK styles not applied ({font})"
        page.goto(f"{base}/me")
        preview = page.frame_locator("iframe.kpi-digest-preview")
        poll(lambda: preview.locator("body").inner_text(timeout=5000).strip(), 10, "the digest preview in its frame")
        assert refused == [], refused
    finally:
        server.stop()
