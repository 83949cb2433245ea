"""/mail: the mail folder's messages, for admins, only when KPI_ALERTS_MAIL_FOLDER is set; an
email's HTML only inside a sandboxed frame, its text escaped."""

from __future__ import annotations

import re

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import OutgoingMessage, Recipient
from tests.api.web_helpers import person

HOSTILE = OutgoingMessage(key="k-1", subject="[RED] <script>alert(1)</script>", html="<p>hi<script>x()</script></p>",
                          text="<b>text</b>", severity="red")


def test_no_mail_folder_no_page(web):
    admin = person(web, "admin@example.org", "admin")
    assert admin.get("/mail").status_code == 404
    assert 'href="/mail"' not in admin.get("/").text


def test_admins_read_the_folder_escaped_and_the_html_sandboxed(make_api, tmp_path):
    web = make_api(base_url="https://kpi.example.org", mail_folder=str(tmp_path / "mail"),
                   email_url="mailto://localhost")
    CHANNELS["email"].send(Recipient("Jo", "jo@example.org", None), HOSTILE, web.settings)
    assert person(web, "viewer@example.org").get("/mail").status_code == 403
    admin = person(web, "admin@example.org", "admin")
    listing = admin.get("/mail")
    assert listing.status_code == 200 and 'href="/mail"' in listing.text
    assert "<script>alert(1)" not in listing.text and "[RED] &lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    (href,) = re.findall(r'href="(/mail/[^"]+\.eml)"', listing.text)
    page = admin.get(href)
    assert page.status_code == 200 and "&lt;b&gt;text&lt;/b&gt;" in page.text and "x()" not in page.text
    assert f'src="{href}/html"' in page.text and " sandbox " in page.text
    frame = admin.get(f"{href}/html")
    assert frame.headers["content-security-policy"].startswith("sandbox;") and "<script>x()" in frame.text
    assert admin.get("/mail/..%2Fapi.db").status_code == 404


def test_the_local_demos_link_still_signs_in_hours_later(make_api):
    """`demo --serve` prints a link for a day (LOCAL_LINK_MINUTES); every other link keeps 15 minutes."""
    import datetime as dt

    import time_machine
    from fastapi.testclient import TestClient

    from alerts.store.db import session_for
    from alerts.store.models import utcnow
    from alerts.store.secrets import signing_key
    from alerts.usecases.signin import LOCAL_LINK_MINUTES, add_user, link_for_user, link_path
    from tests.api.web_helpers import csrf

    web = make_api(base_url="https://kpi.example.org", mail_folder="unused", email_url="mailto://localhost")
    with session_for(web.settings.database_url) as s:
        add_user(s, "admin@example.org", "admin", "", utcnow())
        path = link_path(signing_key(s, web.settings),
                         link_for_user(s, "admin@example.org", utcnow(), minutes=LOCAL_LINK_MINUTES).nonce)
        short = link_path(signing_key(s, web.settings), link_for_user(s, "admin@example.org", utcnow()).nonce)
    client = TestClient(web.client.app, base_url="https://testserver")  # the cookies are Secure
    tokens = [re.search(r'name="token" value="([^"]+)"', client.get(p).text).group(1) for p in (path, short)]
    with time_machine.travel(utcnow() + dt.timedelta(hours=5)):
        form = csrf(client, path)
        answers = [client.post("/signin/link", data={"token": t, "csrf": form}, follow_redirects=False)
                   for t in reversed(tokens)]
    assert [a.status_code for a in answers] == [400, 303]  # the 15-minute one expired, the day-long one signs in
