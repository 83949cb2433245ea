"""Issue 17, "What a leader undoes stays undone": a one-click unsubscribe suppresses the
subscriber until the person follows something again themselves in the web app, whatever a
subscriptions file, `subscribe` or a performance user does; `subscriptions apply` leaves alone
what a leader chose on the web page that the file does not name."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.store.db import session_for
from alerts.store.models import Subscriber, Subscription
from tests.api.web_helpers import csrf, person, post
from tests.cli import make_cli
from tests.conftest import kpi_csv

BASE = "https://kpi.example.org"
FILE = """\
subscribers:
  - name: Jo
    email: jo@example.org
    subscriptions:
      - min_severity: amber
  - name: Sam
    email: sam@example.org
"""
SUPPRESSED_JO = "suppressed: Jo (unsubscribed on 2026-02-18 by one-click; they can follow again in the web app)"


@pytest.fixture
def site(make_api, smtp_server, clock, tmp_path):
    """The API sending to the SMTP peer with links to BASE, the clock at NOW (18 Feb 2026), a
    `kpi-alerts` on its database and the file applied: (api, cli, file, smtp peer)."""
    api = make_api(email_url=smtp_server.apprise_url, base_url=BASE)
    cli = make_cli(api.settings.database_url)
    file = tmp_path / "subscriptions.yaml"
    file.write_text(FILE)
    assert cli("subscriptions", "apply", str(file)).stdout.strip() == "2 added, 0 removed, 0 unchanged"
    return api, cli, file, smtp_server


def by_name(api) -> dict[str, tuple[int, object]]:
    """Each subscriber's (subscriptions, unsubscribed_at)."""
    q = (select(Subscriber.name, func.count(Subscription.id), Subscriber.unsubscribed_at)
         .outerjoin(Subscription, Subscription.subscriber_id == Subscriber.id).group_by(Subscriber.id))
    with session_for(api.settings.database_url) as s:
        return {name: (n, when) for name, n, when in s.execute(q).all()}


def readded(api) -> list[str]:
    """Suppressed subscribers that hold a subscription again: must stay empty."""
    return sorted(name for name, (n, when) in by_name(api).items() if when is not None and n)


def one_click(api, smtp, address: str) -> None:
    """The person clicks "Unsubscribe" in their mail client (the List-Unsubscribe header's POST)."""
    email = next(m for _, to, m in smtp.messages if to == [address])
    answer = api.client.post(email["List-Unsubscribe"][1:-1].removeprefix(BASE),
                             data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert answer.status_code == 200


def test_apply_and_subscribe_add_nothing_for_a_one_click_unsubscriber_until_they_follow_again(site):
    api, cli, file, smtp = site
    assert api.upload("k1.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    smtp.wait_for(2)
    one_click(api, smtp, "jo@example.org")
    assert by_name(api)["Jo"][0] == 0

    again = cli("subscriptions", "apply", str(file))  # the nightly job: it re-added Jo ("1 added")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["0 added, 0 removed, 1 unchanged", SUPPRESSED_JO]
    assert readded(api) == [] and by_name(api)["Jo"][1] is not None  # re-added unsubscribers: 0
    for args in (("Jo", "--email", "jo@example.org"), ("Jo Bloggs", "--email", "JO@example.org")):  # same address
        res = cli("subscribe", *args, "--min-severity", "red")
        assert (res.returncode, res.stdout.strip()) == (0, SUPPRESSED_JO.replace("Jo", args[0], 1)), res.stderr
    renamed = file.read_text().replace("name: Jo\n", "name: Jo Bloggs\n")
    file.with_name("renamed.yaml").write_text(renamed)
    res = cli("subscriptions", "apply", str(file.with_name("renamed.yaml")))
    assert res.stdout.splitlines()[1:] == [SUPPRESSED_JO.replace("Jo", "Jo Bloggs", 1)]
    assert "Jo" in by_name(api) and "Jo Bloggs" not in by_name(api)  # the suppressed row is kept, nothing made
    assert readded(api) == []
    smtp.messages.clear()
    assert api.upload("k2.csv", kpi_csv([("2024-11", "PI1", "95")])).status_code == 201  # PI1 resolves
    assert [to for _, to, _ in smtp.wait_for(1)] == [["sam@example.org"]]

    # a performance user cannot lift it for them, on the page or through the JSON API
    perf = person(api, "perf@example.org", "performance")
    with session_for(api.settings.database_url) as s:
        jo_id = s.execute(select(Subscriber.id).where(Subscriber.name == "Jo")).scalar_one()
    refused = post(perf, "/me/subscriptions", {"subscriber": str(jo_id), "tags": "assessment"}, "/me")
    assert refused.status_code == 303 and "error=suppressed" in refused.headers["location"]
    assert "only they can follow again" in perf.get(refused.headers["location"]).text
    assert "Jo unsubscribed with the link in an email on 18 February 2026" in perf.get(f"/me?subscriber={jo_id}").text
    body = {"subscriber": jo_id, "tags": ["assessment"]}
    for answer in (perf.post("/api/subscriptions", json=body, headers={"X-CSRF-Token": csrf(perf)}),
                   api.client.post("/api/subscriptions", json=body, headers=api.auth)):  # a script's token
        assert answer.status_code == 422 and "unsubscribed with the one-click link" in answer.json()["detail"]
    assert readded(api) == [] and by_name(api)["Jo"][1] is not None

    # Jo follows something again, signed in themselves: that lifts it, and the file applies again
    jo = person(api, "jo@example.org", name="Jo")
    assert "You unsubscribed with the link in an email on 18 February 2026" in jo.get("/me").text
    assert post(jo, "/me/subscriptions", {"indicators": "single_assessments_45wd"}, "/me").status_code == 303
    assert by_name(api)["Jo"] == (1, None) and 'id="unsubscribed"' not in jo.get("/me").text
    assert cli("subscriptions", "apply", str(file)).stdout.strip() == "1 added, 0 removed, 1 unchanged"
    assert by_name(api)["Jo"] == (2, None)  # the file's and their own


def test_apply_leaves_alone_what_a_leader_chose_on_the_web_page_that_the_file_does_not_name(site):
    api, cli, file, _ = site
    assert api.upload("k1.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    jo = person(api, "jo@example.org", name="Jo")
    assert post(jo, "/me/digest", {"cadence": "monthly"}, "/me").status_code == 303  # and no empty digest
    assert post(jo, "/me/subscriptions", {"indicators": "single_assessments_45wd", "min_severity": "red"},
                "/me").status_code == 303
    lee = person(api, "lee@example.org", name="Lee")  # a leader the file does not name at all
    assert post(lee, "/me/subscriptions", {"tags": "finance"}, "/me").status_code == 303
    with session_for(api.settings.database_url) as s:
        sam = s.execute(select(Subscriber.id).where(Subscriber.name == "Sam")).scalar_one()
    for_sam = api.client.post("/api/subscriptions", json={"subscriber": sam, "tags": ["assessment"]},
                              headers=api.auth)  # the performance team's script: the file's to manage
    assert for_sam.status_code == 201

    res = cli("subscriptions", "apply", str(file))
    assert res.stdout.strip() == "0 added, 1 removed, 2 unchanged"  # only the follow made for Sam by someone else
    with session_for(api.settings.database_url) as s:
        rows = {w.name: (w.digest_cadence, w.empty_digest) for w in s.execute(select(Subscriber)).scalars()}
        own = s.execute(select(Subscriber.name, Subscription.indicators, Subscription.tags).join(Subscriber)
                        .where(Subscription.self_added).order_by(Subscriber.name)).all()
    assert rows["Jo"] == ("monthly", False) and rows["Sam"] == ("weekly", True)
    assert own == [("Jo", ["single_assessments_45wd"], []), ("Lee", [], ["finance"])]
    assert by_name(api)["Sam"][0] == 1
    assert cli("subscriptions", "apply", str(file)).stdout.strip() == "0 added, 0 removed, 2 unchanged"

    # what the file names, it sets; a new subscriber gets the defaults
    file.write_text(FILE.replace("    email: jo@example.org\n", "    email: jo@example.org\n    empty_digest: true\n")
                    + "  - name: Kim\n    email: kim@example.org\n")
    assert cli("subscriptions", "apply", str(file)).stdout.strip() == "1 added, 0 removed, 2 unchanged"
    with session_for(api.settings.database_url) as s:
        rows = {w.name: (w.digest_cadence, w.empty_digest) for w in s.execute(select(Subscriber)).scalars()}
    assert rows["Jo"] == ("monthly", True) and rows["Kim"] == ("weekly", True)


def test_a_message_planned_before_the_click_is_withdrawn_not_sent(site):
    """An alert email waiting for a retry when the person clicks Unsubscribe never goes out:
    one click means nothing more."""
    import datetime as dt

    from alerts.notify.deliver import deliver
    from alerts.store.models import Delivery

    api, _, _, smtp = site
    assert api.upload("k1.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    smtp.wait_for(2)
    smtp.script = ["451 try later", "451 try later"]  # the next return's emails wait for a retry
    assert api.upload("k2.csv", kpi_csv([("2024-11", "PI1", "75")])).status_code == 201
    with session_for(api.settings.database_url) as s:
        waiting = s.execute(select(Delivery.id, Delivery.subscriber_id).where(Delivery.status == "pending")).all()
        jo = s.execute(select(Subscriber.id).where(Subscriber.name == "Jo")).scalar_one()
    assert jo in {who for _, who in waiting}
    one_click(api, smtp, "jo@example.org")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with session_for(api.settings.database_url) as s:
        outcomes = {who: deliver(s, api.settings, d, now=later) for d, who in waiting}
        s.commit()
    assert outcomes[jo] == "withdrawn"
    assert [to for _, to, _ in smtp.messages].count(["jo@example.org"]) == 1  # the first return's only
