"""The one-click unsubscribe endpoint (RFC 8058) with the tokens the emails carry."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from alerts.notify.unsubscribe import make_token
from alerts.store.db import session_for
from alerts.store.models import Subscription, utcnow
from alerts.store.secrets import signing_key
from tests.cli import make_cli
from tests.conftest import add_subscriber, kpi_csv

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def subscriptions(settings, subscriber_id: int | None = None) -> int:
    q = select(func.count()).select_from(Subscription)
    if subscriber_id is not None:
        q = q.where(Subscription.subscriber_id == subscriber_id)
    with session_for(settings.database_url) as s:
        return s.execute(q).scalar_one()


@pytest.fixture
def subscribed(api):
    """Two subscribers; the first <Jo & "Co"> with two subscriptions: (api, jo's id, jo's token)."""
    jo = add_subscriber(api.settings, 'Jo <b>&</b> "Co"', "jo@example.org")
    add_subscriber(api.settings, 'Jo <b>&</b> "Co"', "jo@example.org", min_severity="red")
    add_subscriber(api.settings, "Sam", "sam@example.org")
    with session_for(api.settings.database_url) as s:
        key = signing_key(s, api.settings)
    return api, jo, make_token(key, jo, 0), key


def test_get_shows_a_form_that_posts_and_changes_nothing(subscribed):
    api, jo, token, _ = subscribed
    for _ in range(3):  # a mail scanner following the link, a preview, the person
        res = api.client.get("/unsubscribe", params={"token": token})
        assert res.status_code == 200
    page = res.text
    assert '<form method="post" action="?token=' + token + '">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert "Jo &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&quot;" in page and "<b>" not in page
    assert res.headers["Cache-Control"] == "no-store" and res.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in res.headers["Content-Security-Policy"]
    assert subscriptions(api.settings, jo) == 2


def test_one_click_post_removes_the_subscribers_subscriptions_and_answers_200(subscribed):
    api, jo, token, _ = subscribed
    res = api.client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"},
                          follow_redirects=False)  # no cookie, no login
    assert res.status_code == 200 and "location" not in res.headers
    assert "unsubscribed" in res.text
    assert subscriptions(api.settings, jo) == 0
    assert subscriptions(api.settings) == 1  # Sam's stays
    again = api.client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    # multipart/form-data is allowed by RFC 8058 too
    sam = add_subscriber(api.settings, "Sam", "sam@example.org")
    with session_for(api.settings.database_url) as s:
        sam_token = make_token(signing_key(s, api.settings), sam, 0)
    res = api.client.post(f"/unsubscribe?token={sam_token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert res.status_code == 200 and subscriptions(api.settings) == 0


def test_a_tampered_or_foreign_token_is_400_and_nothing_changes(subscribed):
    api, jo, token, key = subscribed
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other_key = make_token(b"another install's key", jo, 0)
    for bad in (flipped, other_key, "", "garbage", token + "x"):
        get = api.client.get("/unsubscribe", params={"token": bad})
        post = api.client.post("/unsubscribe", params={"token": bad}, data={"List-Unsubscribe": "One-Click"})
        assert (get.status_code, post.status_code) == (400, 400), bad
        assert "Nothing was changed" in post.text and "expired" not in post.text
    assert subscriptions(api.settings) == 3


def test_a_link_of_the_old_expiring_format_works_long_after_its_expiry(subscribed):
    """Emails sent before links stopped expiring carry {"s": id, "e": expiry}: genuine, version 0."""
    api, jo, _, key = subscribed
    old = URLSafeSerializer(key, salt="kpi-alerts/unsubscribe/v2", signer_kwargs={"digest_method": hashlib.sha256})
    token = old.dumps({"s": jo, "e": int((utcnow() - dt.timedelta(days=200)).timestamp())})
    assert api.client.get("/unsubscribe", params={"token": token}).status_code == 200
    assert api.client.post(f"/unsubscribe?token={token}", data=ONE_CLICK).status_code == 200
    assert subscriptions(api.settings, jo) == 0


def test_a_link_from_an_email_still_works_100_days_later(make_api, smtp_server, clock):
    """Links do not expire: a leader who finds an old alert email can still unsubscribe (the
    links of the earlier format answered 400 after 90 days)."""
    api = make_api(email_url=smtp_server.apprise_url, base_url="https://kpi.example.org")
    jo = add_subscriber(api.settings, "Jo", "jo@example.org")
    assert api.upload("k.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    (_, _, email), = smtp_server.wait_for(1)
    link = email["List-Unsubscribe"][1:-1].removeprefix("https://kpi.example.org")
    clock.shift(dt.timedelta(days=100))
    page = api.client.get(link)
    assert page.status_code == 200 and "(Jo)" in page.text and subscriptions(api.settings, jo) == 1
    done = api.client.post(link, data=ONE_CLICK, follow_redirects=False)
    assert done.status_code == 200 and "location" not in done.headers
    assert subscriptions(api.settings, jo) == 0


def test_revoked_links_and_links_of_a_removed_subscriber_are_400_saying_so(make_api, smtp_server, tmp_path):
    api = make_api(email_url=smtp_server.apprise_url, base_url="https://kpi.example.org")
    cli = make_cli(api.settings.database_url)
    jo = add_subscriber(api.settings, "Jo", "jo@example.org")
    assert api.upload("k.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    (_, _, first), = smtp_server.wait_for(1)
    old_link = first["List-Unsubscribe"][1:-1].removeprefix("https://kpi.example.org")
    revoked = cli("subscriptions", "revoke-links", "Jo")
    assert revoked.returncode == 0, revoked.stderr
    assert "unsubscribe links of Jo revoked" in revoked.stdout
    assert cli("subscriptions", "revoke-links", "Nobody").returncode == 2
    for answer in (api.client.get(old_link), api.client.post(old_link, data=ONE_CLICK, follow_redirects=False)):
        assert answer.status_code == 400 and "This link was revoked. Nothing was changed." in answer.text
    assert subscriptions(api.settings, jo) == 1
    assert api.upload("k2.csv", kpi_csv([("2024-11", "PI1", "95")])).status_code == 201  # resolved: a new email
    _, (_, _, second) = smtp_server.wait_for(2)
    new_link = second["List-Unsubscribe"][1:-1].removeprefix("https://kpi.example.org")
    assert new_link != old_link and api.client.post(new_link, data=ONE_CLICK).status_code == 200
    # a subscriber the file no longer names and no delivery keeps is gone: its link says so
    gone = add_subscriber(api.settings, "Gone", "gone@example.org")
    with session_for(api.settings.database_url) as s:
        token = make_token(signing_key(s, api.settings), gone, 0)
    file = tmp_path / "subs.yaml"
    file.write_text("subscribers:\n  - name: Jo\n    email: jo@example.org\n")
    assert cli("subscriptions", "apply", str(file)).returncode == 0
    answer = api.client.post(f"/unsubscribe?token={token}", data=ONE_CLICK)
    assert answer.status_code == 400 and "no longer on record" in answer.text


def test_a_post_without_the_one_click_body_changes_nothing(subscribed):
    api, _, token, _ = subscribed
    for data in ({}, {"List-Unsubscribe": "yes"}):
        assert api.client.post(f"/unsubscribe?token={token}", data=data).status_code == 400
    assert api.client.post("/unsubscribe", data={"List-Unsubscribe": "One-Click"}).status_code == 400  # no token
    assert subscriptions(api.settings) == 3
