"""The web app's sign-in by email link (issue 12), in-process behind TestClient, with the link
captured by a real SMTP peer: the same answer for known and unknown addresses, a link that
works once and for 15 minutes, a GET that changes nothing, CSRF on every form, rate limits,
sign-out, and the status board behind the session, escaping what returns say."""

from __future__ import annotations

import datetime as dt
import re
import time
from html import unescape
from urllib.parse import urlencode

import pytest
import time_machine

from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import MAX_PER_ADDRESS, add_user
from tests.conftest import add_subscriber, kpi_csv
from tests.peers import poll

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def web(make_api, smtp_server):
    api = make_api(email_url=smtp_server.apprise_url, email_from="kpi@example.org", base_url="https://kpi.example.org")
    api.client.base_url = "https://testserver"  # as a browser on the https site: Secure cookies come back
    return api


def csrf(client, path: str = "/signin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def ask_link(client, email: str) -> str:
    return client.post("/signin", data={"email": email, "csrf": csrf(client)}).text


SUBJECT = "Your kpi-alerts sign-in link"


def sign_in_emails(smtp_server) -> list:
    return [m for _, _, m in smtp_server.messages if m["Subject"] == SUBJECT]


def link_from(smtp_server, count: int = 1) -> str:
    """The link in the `count`-th sign-in email to arrive (waiting for it)."""
    poll(lambda: len(sign_in_emails(smtp_server)) >= count, 10, f"sign-in email {count}")
    msg = sign_in_emails(smtp_server)[count - 1]
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    url = unescape(re.search(r'href="([^"]+)"', html).group(1))
    assert url.startswith("https://kpi.example.org/signin/link?token=")
    return url.removeprefix("https://kpi.example.org")


def sign_in(client, smtp_server, email: str, count: int = 1) -> None:
    ask_link(client, email)
    path = link_from(smtp_server, count)
    token = re.search(r'name="token" value="([^"]+)"', client.get(path).text).group(1)
    done = client.post("/signin/link", data={"token": token, "csrf": csrf(client, path)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/", done.text


def make_user(settings, email: str, role: str = "viewer", name: str = "") -> None:
    with session_for(settings.database_url) as s:
        add_user(s, email, role, name, utcnow())


def test_pages_need_a_session(web):
    for path, signin in (("/", "/signin"), ("/?provider=sandwell", "/signin?next=%2F%3Fprovider%3Dsandwell")):
        answer = web.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == signin


PAGE = "/indicators/single_assessments_45wd?provider=sandwell"


def test_a_signed_out_leader_who_follows_an_email_link_signs_in_and_lands_on_that_page(web, smtp_server):
    assert web.upload("k.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    make_user(web.settings, "lead@example.org", name="Commissioning lead")
    sent_away = web.client.get(PAGE, follow_redirects=False)  # the link in an alert email
    assert sent_away.status_code == 303
    signin = sent_away.headers["location"]
    assert signin == "/signin?next=%2Findicators%2Fsingle_assessments_45wd%3Fprovider%3Dsandwell"
    form = web.client.get(signin).text
    assert f'<input type="hidden" name="next" value="{PAGE}">' in unescape(form)
    asked = web.client.post("/signin", data={"email": "lead@example.org", "next": PAGE, "csrf": CSRF.search(form)[1]})
    assert "Check your email" in asked.text
    path = link_from(smtp_server)  # from KPI_ALERTS_BASE_URL, with the page to land on
    assert path.endswith("&next=%2Findicators%2Fsingle_assessments_45wd%3Fprovider%3Dsandwell")
    button = web.client.get(path).text
    token = re.search(r'name="token" value="([^"]+)"', button).group(1)
    landing = re.search(r'name="next" value="([^"]+)"', button).group(1)
    done = web.client.post("/signin/link", data={"token": token, "next": unescape(landing),
                                                 "csrf": CSRF.search(button)[1]}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == PAGE
    page = web.client.get(done.headers["location"])
    assert page.status_code == 200 and "PI1 Single assessments completed within 45 working days" in page.text


HOSTILE_NEXT = ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
                "javascript:alert(1)", "/%2F%2Fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
                "/%252F%252Fevil.example", "/\t/evil.example", "/%09/evil.example", "/\r\nSet-Cookie: x=1",
                "/%0d%0aSet-Cookie:%20x=1", "http:/evil.example", "evil.example", " //evil.example", ""]


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_a_next_that_leaves_the_site_lands_on_the_status_board(web, hostile):
    from alerts.store.secrets import signing_key
    from alerts.usecases.signin import link_for_user, link_path

    make_user(web.settings, "jo@example.org")
    form = web.client.get("/signin", params={"next": hostile}).text
    assert 'name="next"' not in form
    with session_for(web.settings.database_url) as s:
        nonce = link_for_user(s, "jo@example.org", utcnow()).nonce
        path = link_path(signing_key(s, web.settings), nonce, hostile)
    assert "next=" not in path  # never carried into a link
    button = web.client.get(f"{path}&{urlencode({'next': hostile})}").text  # a link edited by hand
    assert 'name="next"' not in button
    token = re.search(r'name="token" value="([^"]+)"', button).group(1)
    done = web.client.post("/signin/link", data={"token": token, "next": hostile, "csrf": CSRF.search(button)[1]},
                           follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_the_link_s_address_comes_from_the_base_url_never_the_request(make_api, smtp_server, caplog):
    """The Host header is the sender's to choose: a link to evil.example would hand over a
    working sign-in link."""
    bare = make_api(email_url=smtp_server.apprise_url, email_from="kpi@example.org")  # no KPI_ALERTS_BASE_URL
    make_user(bare.settings, "jo@example.org")
    bare.client.base_url = "http://evil.example"
    answer = bare.client.post("/signin", data={"email": "jo@example.org", "csrf": csrf(bare.client)},
                              headers={"host": "evil.example"})
    assert "Check your email" in answer.text  # the same answer
    poll(lambda: "KPI_ALERTS_BASE_URL is not set" in caplog.text, 10, "the job's log line")
    assert smtp_server.messages == []  # the job has ended: nothing was sent


def test_with_a_base_url_the_link_goes_there_whatever_the_host(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    web.client.post("/signin", data={"email": "jo@example.org", "csrf": csrf(web.client)},
                    headers={"host": "evil.example"})
    assert link_from(smtp_server).startswith("/signin/link?token=")  # link_from: it starts at the base URL


def test_a_subscriber_signs_in_by_link_and_sees_the_status_board(web, smtp_server):
    add_subscriber(web.settings, "Commissioning lead", "Lead@Example.org")
    assert web.upload("k.csv", kpi_csv([("2024-10", "PI1", "60"), ("2024-10", "PI2", "95")])).status_code == 201
    sign_in(web.client, smtp_server, "lead@example.org")
    assert [to for _, to, m in smtp_server.messages if m["Subject"] == SUBJECT] == [["lead@example.org"]]
    board = web.client.get("/")
    assert board.status_code == 200
    assert "Status board" in board.text and "Sandwell" in board.text
    assert "In failure" in board.text and "On target" in board.text  # the rating in words beside the colour
    assert "govuk-tag--red" in board.text
    assert "Sign out Commissioning lead" in board.text


def test_the_answer_is_the_same_for_unknown_and_known_addresses(web, smtp_server):
    make_user(web.settings, "known@example.org")
    known = ask_link(web.client, "known@example.org").replace("known@example.org", "ADDRESS")
    unknown = ask_link(web.client, "stranger@example.org").replace("stranger@example.org", "ADDRESS")
    assert CSRF.sub("", known) == CSRF.sub("", unknown)
    assert "Check your email" in known
    smtp_server.wait_for(1)
    assert [to for _, to, _ in smtp_server.messages] == [["known@example.org"]]  # no email to a stranger


def test_a_known_address_is_answered_before_its_email_is_sent(web, smtp_server):
    """Issue 18: with SMTP stalling, a known address was answered seconds after an unknown one
    (the email went out inside the request). Now the answer comes before the SMTP peer has even
    accepted the message, for a known address as for an unknown one."""
    make_user(web.settings, "known@example.org")
    smtp_server.script = ["stall 3"]
    timings = {}
    for email in ("stranger@example.org", "known@example.org", "stranger2@example.org", "known@example.org"):
        form = csrf(web.client)
        started = time.perf_counter()
        answer = web.client.post("/signin", data={"email": email, "csrf": form})
        timings.setdefault(email, []).append((time.perf_counter() - started) * 1000)
        assert "Check your email" in answer.text
        if email == "known@example.org" and len(timings[email]) == 1:
            assert smtp_server.messages == []  # answered first: the peer has not accepted the message yet
    smtp_server.wait_for(2)  # then the emails arrive, the first after its stall
    assert [to for _, to, _ in smtp_server.messages] == [["known@example.org"]] * 2
    print(f"sign-in answers (ms) with SMTP stalling 3 s: {timings}")


def test_a_link_works_once(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    sign_in(web.client, smtp_server, "jo@example.org")
    path = link_from(smtp_server)
    token = re.search(r'name="token" value="([^"]+)"', web.client.get(path).text).group(1)
    again = web.client.post("/signin/link", data={"token": token, "csrf": csrf(web.client, path)},
                            follow_redirects=False)
    assert again.status_code == 400 and "used or has expired" in again.text


def test_following_the_link_changes_nothing(web, smtp_server):
    """Mail scanners follow links: the GET shows a button; the link still works after it."""
    make_user(web.settings, "jo@example.org")
    ask_link(web.client, "jo@example.org")
    path = link_from(smtp_server)
    for _ in range(3):
        assert web.client.get(path).status_code == 200
    assert web.client.get("/", follow_redirects=False).status_code == 303  # not signed in by a GET
    sign_in_with = re.search(r'name="token" value="([^"]+)"', web.client.get(path).text).group(1)
    used = web.client.post("/signin/link", data={"token": sign_in_with, "csrf": csrf(web.client, path)},
                           follow_redirects=False)
    assert used.status_code == 303


def test_an_expired_link_is_refused(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    ask_link(web.client, "jo@example.org")
    path = link_from(smtp_server)
    token = re.search(r'name="token" value="([^"]+)"', web.client.get(path).text).group(1)
    form = csrf(web.client, path)
    with time_machine.travel(utcnow() + dt.timedelta(minutes=16)):
        late = web.client.post("/signin/link", data={"token": token, "csrf": form}, follow_redirects=False)
    assert late.status_code == 400 and "used or has expired" in late.text


def test_a_tampered_link_is_refused(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    ask_link(web.client, "jo@example.org")
    token = re.search(r"token=([^&]+)", link_from(smtp_server)).group(1)
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    answer = web.client.post("/signin/link", data={"token": forged, "csrf": csrf(web.client)}, follow_redirects=False)
    assert answer.status_code == 400


def test_guessing_sign_in_links_is_slowed_with_429(make_api):
    """Issue 18: failed link redemptions count with failed bearer tokens, per client and minute."""
    api = make_api(base_url="https://kpi.example.org", auth_failures_per_minute=3)
    api.client.base_url = "https://testserver"  # the Secure CSRF cookie comes back
    form = csrf(api.client)
    codes = [api.client.post("/signin/link", data={"token": f"guess-{i}", "csrf": form}).status_code
             for i in range(6)]
    assert codes == [400] * 3 + [429] * 3
    answer = api.client.post("/signin/link", data={"token": "guess", "csrf": form})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1


def test_forms_without_the_csrf_token_are_refused(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    web.client.get("/signin")  # the CSRF cookie is set
    assert web.client.post("/signin", data={"email": "jo@example.org"}).status_code == 403
    assert web.client.post("/signin", data={"email": "jo@example.org", "csrf": "x" * 43}).status_code == 403
    assert not smtp_server.messages
    sign_in(web.client, smtp_server, "jo@example.org")
    assert web.client.post("/signout", data={}, follow_redirects=False).status_code == 403
    assert web.client.get("/").status_code == 200  # still signed in


def test_sign_out_ends_the_session_for_good(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    sign_in(web.client, smtp_server, "jo@example.org")
    cookie = web.client.cookies.get("kpi_session")
    out = web.client.post("/signout", data={"csrf": csrf(web.client, "/")}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    web.client.cookies.set("kpi_session", cookie)  # the old cookie, replayed
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_cookies_are_httponly_samesite_and_secure_over_https(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    ask_link(web.client, "jo@example.org")
    path = link_from(smtp_server)
    page = web.client.get(path)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = web.client.post("/signin/link", data={"token": token, "csrf": CSRF.search(page.text).group(1)},
                           follow_redirects=False)
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("kpi_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    assert "Max-Age=43200" in cookie  # KPI_ALERTS_SESSION_HOURS=12


def test_link_requests_are_limited_per_address(web, smtp_server):
    make_user(web.settings, "jo@example.org")
    for _ in range(MAX_PER_ADDRESS + 2):
        assert "Check your email" in ask_link(web.client, "jo@example.org")  # the same answer throughout
    smtp_server.wait_for(MAX_PER_ADDRESS)
    assert len(smtp_server.messages) == MAX_PER_ADDRESS


def test_hostile_names_are_escaped_on_the_board(web, smtp_server):
    hostile = "<script>alert(1)</script>"
    csv = kpi_csv([("2024-10", "PI1", "60")], provider="x-script")
    assert web.upload("k.csv", csv).status_code == 201
    make_user(web.settings, "jo@example.org", name=hostile)
    sign_in(web.client, smtp_server, "jo@example.org")
    board = web.client.get("/").text
    assert "<script>" not in board and "&lt;script&gt;" in board


def test_users_link_prints_a_single_use_sign_in_link_for_an_install_without_email(web):
    from tests.cli import make_cli

    cli = make_cli(web.settings.database_url)
    assert cli("users", "add", "First@Example.org", "--role", "admin", "--name", "First admin").returncode == 0
    printed = cli("users", "link", "first@example.org", base_url="https://kpi.example.org")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("https://kpi.example.org/signin/link?token=") and "single use" in printed.stderr
    path = url.removeprefix("https://kpi.example.org")
    token = re.search(r'name="token" value="([^"]+)"', web.client.get(path).text).group(1)
    done = web.client.post("/signin/link", data={"token": token, "csrf": csrf(web.client, path)},
                           follow_redirects=False)
    assert done.status_code == 303
    assert "Sign out First admin" in web.client.get("/").text
    again = web.client.post("/signin/link", data={"token": token, "csrf": csrf(web.client, path)})
    assert again.status_code == 400  # used
    unknown = cli("users", "link", "nobody@example.org")
    assert unknown.returncode != 0 and "no user 'nobody@example.org'" in unknown.stderr
