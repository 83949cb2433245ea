"""Defect 3: subscribing accepts exactly the addresses the channels can send to (each channel
parses its own, with Apprise), including the webhook URL Teams hands out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.usecases.subscriptions import SubscriberSpec, apply
from rules.loader import SHIPPED_PACKS, load_catalog

NATIVE = ("https://prod-161.westeurope.logic.azure.com:443/workflows/0123abcd4567ef890123abcd4567ef89/triggers/manual"
          "/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEfGhIjKlMnOpQrStUvWxYz012345")
SHORT = "workflows://prod-161.westeurope.logic.azure.com:443/0123abcd4567ef890123abcd4567ef89/AbCdEfGhIjKl/"


@pytest.mark.parametrize("url", [NATIVE, SHORT, SHORT.replace("workflows://", "workflow://")])
def test_the_teams_webhook_the_readme_documents_is_accepted(url):
    assert SubscriberSpec(name="Team", teams=url).teams == url


@pytest.mark.parametrize("url", ["https://example.org/hook", "mailto://127.0.0.1:25", "workflows://h/not a valid id/s/",
                                 "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", ""])
def test_what_teams_cannot_send_to_is_refused_without_echoing_it(url):
    with pytest.raises(ValidationError) as caught:
        SubscriberSpec(name="Team", teams=url)
    assert "Workflows" in str(caught.value)
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in str(caught.value)


@pytest.mark.parametrize(("address", "ok"), [("jo@example.org", True), ("jo+kpi@example.org", True),
                                             ("jo", False), ("a@example.org, b@example.org", False),
                                             ("Jo <jo@example.org>", False), ("jo@example.org\r\nBcc: x@y.org", False)])
def test_email_addresses_are_the_email_channels_to_decide(address, ok):
    if ok:
        assert SubscriberSpec(name="Jo", email=address).email == address
    else:
        with pytest.raises(ValidationError, match="one email address"):
            SubscriberSpec(name="Jo", email=address)


def test_subscriptions_apply_takes_the_native_teams_webhook(settings, tmp_path):
    from alerts.store.db import session_for

    path = tmp_path / "subs.yaml"
    path.write_text(f"subscribers:\n  - name: Safeguarding channel\n    teams: '{NATIVE}'\n", encoding="utf-8")
    with session_for(settings.database_url) as s:
        assert apply(s, load_catalog(SHIPPED_PACKS), path).added == 1
