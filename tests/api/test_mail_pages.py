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
