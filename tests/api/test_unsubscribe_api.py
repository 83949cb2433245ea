"""The one-click unsubscribe endpoint (RFC 8058) with the tokens the emails carry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from alerts.notify.unsubscribe import make_token
from alerts.store.db import session_for
from alerts.store.models import Subscription, utcnow
from alerts.store.secrets import signing_key
from tests.conftest import add_subscriber


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
    return api, jo, make_token(key, jo, utcnow()), key


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
        sam_token = make_token(signing_key(s, api.settings), sam, utcnow())
    res = api.client.post(f"/unsubscribe?token={sam_token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert res.status_code == 200 and subscriptions(api.settings) == 0


def test_a_tampered_or_expired_token_is_400_and_nothing_changes(subscribed):
    api, jo, token, key = subscribed
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    expired = make_token(key, jo, utcnow() - dt.timedelta(days=91))
    other_key = make_token(b"another install's key", jo, utcnow())
    for bad in (flipped, expired, other_key, "", "garbage", token + "x"):
        get = api.client.get("/unsubscribe", params={"token": bad})
        post = api.client.post("/unsubscribe", params={"token": bad}, data={"List-Unsubscribe": "One-Click"})
        assert (get.status_code, post.status_code) == (400, 400), bad
        assert "Nothing was changed" in post.text
    assert "expired" in api.client.get("/unsubscribe", params={"token": expired}).text
    assert subscriptions(api.settings) == 3


def test_a_post_without_the_one_click_body_changes_nothing(subscribed):
    api, _, token, _ = subscribed
    for data in ({}, {"List-Unsubscribe": "yes"}):
        assert api.client.post(f"/unsubscribe?token={token}", data=data).status_code == 400
    assert api.client.post("/unsubscribe", data={"List-Unsubscribe": "One-Click"}).status_code == 400  # no token
    assert subscriptions(api.settings) == 3
