"""Issue 18, "sign-in link poisoning": no absolute URL the service makes, in a page, a
redirect or an email, takes its host from the request; `serve` will not start where a link
could only come from one; KPI_ALERTS_ALLOWED_HOSTS answers any other Host with 400."""

from __future__ import annotations

import re

import pytest

from tests.api.web_helpers import person
from tests.conftest import add_subscriber, kpi_csv
from tests.peers import poll

HOSTILE = ["evil.example", "evil.example:8443", "kpi.example.org.evil.example", "EVIL.example"]
PAGES = ["/", "/?provider=sandwell", "/alerts", "/returns", "/returns/new", "/me", "/tokens", "/admin/users",
         "/indicators/single_assessments_45wd?provider=sandwell", "/signin", "/signin?next=/alerts",
         "/signin/link?token=x", "/unsubscribe?token=x", "/docs", "/api/status", "/api/alerts",
         # Starlette redirects '/x/' to '/x' with an absolute URL built from the Host header
         "/tokens/", "/signin/", "/alerts/", "/api/alerts/", "/healthz/", "/unsubscribe/"]
EVIL = re.compile(r"evil\.example", re.I)


def honoured(answer) -> bool:  # noqa: ANN001
    return bool(EVIL.search(answer.text) or EVIL.search(answer.headers.get("location", "")))


def test_no_page_redirect_or_email_takes_its_host_from_the_request(make_api, smtp_server):
    api = make_api(email_url=smtp_server.apprise_url, email_from="kpi@example.org", base_url="https://kpi.example.org")
    add_subscriber(api.settings, "Lead", "lead@example.org")
    admin = person(api, "admin@example.org", "admin")
    anonymous = person(api, "viewer@example.org")
    anonymous.cookies.clear()
    tried, taken = 0, []
    for n, host in enumerate(HOSTILE):
        for client in (admin, anonymous):
            for path in PAGES:
                answer = client.get(path, headers={"host": host}, follow_redirects=False)
                tried += 1
                if honoured(answer):
                    taken.append((host, path, answer.status_code))
        # what emails: an upload (the alert email) and a sign-in request, under the hostile Host
        upload = api.client.post("/api/returns", files={"file": ("k.csv", kpi_csv([(f"2024-{n + 10:02d}", "PI1",
                                                                                     f"{60 - n}")]))},
                                 headers={**api.auth, "host": host})
        asked = admin.post("/signin", headers={"host": host}, data={
            "email": "admin@example.org", "csrf": re.search(r'name="csrf" value="([^"]+)"', admin.get(
                "/signin").text)[1]})
        tried += 2
        taken += [(host, a.request.url.path, a.status_code) for a in (upload, asked) if honoured(a)]
    poll(lambda: sum(m["Subject"] == "Your kpi-alerts sign-in link" for _, _, m in smtp_server.messages)
         == len(HOSTILE), 20, "a sign-in email per hostile host")
    mails = [m.as_string() for _, _, m in smtp_server.messages]
    assert any("https://kpi.example.org/signin/link?token=" in m for m in mails)
    taken += [("email", m[:80], 0) for m in mails if EVIL.search(m)]
    print(f"hostile Host headers: {tried} requests tried, {len(taken)} honoured")
    assert taken == []


def test_allowed_hosts_answer_another_host_with_400(make_api):
    api = make_api(allowed_hosts="kpi.example.org, localhost")
    for host in HOSTILE:
        for path in ("/signin", "/healthz", "/api/alerts", "/tokens/"):
            answer = api.client.get(path, headers={"host": host}, follow_redirects=False)
            assert answer.status_code == 400 and not honoured(answer), (host, path)
    assert api.client.get("/healthz", headers={"host": "kpi.example.org"}).status_code == 200
    assert api.client.get("/healthz", headers={"host": "localhost:8000"}).status_code == 200


@pytest.mark.parametrize(("settings", "starts"), [
    ({"email_url": "mailto://127.0.0.1:9"}, False),  # sign-in links emailed, no address of its own
    ({"email_url": "mailto://127.0.0.1:9", "base_url": "https://kpi.example.org"}, True),
    ({"email_url": "mailto://127.0.0.1:9", "allowed_hosts": "kpi.example.org"}, True),
    ({}, True),  # no email: no sign-in link to poison
])
def test_serve_refuses_to_start_where_a_link_could_come_from_the_host_header(cli, settings, starts):
    from config import Settings

    problem = Settings(**settings).host_problem
    assert (problem is None) == starts
    if not starts:
        refused = cli("serve", "--port", "0", **settings)
        assert refused.returncode == 2
        assert "KPI_ALERTS_BASE_URL" in refused.stderr and "KPI_ALERTS_ALLOWED_HOSTS" in refused.stderr
