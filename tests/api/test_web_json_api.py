"""The web app's JSON API (issue 12) with the pages' authorisation: a bearer token or the
session cookie; a cookie call that changes something needs X-CSRF-Token; a viewer cannot
change someone else's subscriptions; acknowledging needs the performance role, and lands in
the alert's history with it."""

from __future__ import annotations

import re

from tests.api.web_helpers import csrf, events, person, red_pi1
from tests.conftest import add_subscriber, kpi_csv


def test_every_read_needs_a_session_or_a_token(web):
    red_pi1(web)
    for path in ("/api/status", "/api/alerts", "/api/subscriptions", "/api/returns",
                 "/api/indicators/PI1/history?provider=sandwell"):
        assert web.client.get(path).status_code == 401, path
        assert web.client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert web.client.get(path, headers=web.auth).status_code == 200, path
        assert person(web, f"v{len(path)}@example.org").get(path).status_code == 200, path


def test_status_and_history_say_what_the_pages_say(web):
    red_pi1(web)
    status = web.client.get("/api/status", headers=web.auth).json()
    [board] = status["providers"]
    assert board["provider"] == "sandwell" and board["headline"].endswith("1 in failure")
    pi1 = next(i for i in board["indicators"] if i["code"] == "PI1")
    assert (pi1["rating"], pi1["period"], pi1["direction"], pi1["months_outside_green"]) == ("red", "2024-10", "new", 1)
    assert web.client.get("/api/status?rating=green", headers=web.auth).json()["providers"][0]["indicators"][0][
        "code"] == "PI2"
    history = web.client.get("/api/indicators/PI1/history?provider=sandwell", headers=web.auth).json()
    assert [(h["period"], h["value"], h["rating"]) for h in history["history"]] == [("2024-10", 60.0, "red")]
    assert [e["kind"] for e in history["events"]] == ["opened"]
    assert web.client.get("/api/indicators/PI99/history", headers=web.auth).status_code == 404


def test_acknowledging_over_the_api_needs_the_performance_role_and_records_it(web):
    alert = red_pi1(web)
    viewer = person(web, "lead@example.org", name="Lead")
    refused = viewer.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}, headers={"X-CSRF-Token": csrf(viewer)})
    assert refused.status_code == 403 and "needs the performance role (yours: viewer)" in refused.json()["detail"]
    perf = person(web, "perf@example.org", "performance", "Jo Bloggs")
    token = csrf(perf)
    assert perf.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}).status_code == 403  # no X-CSRF-Token
    assert perf.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}, headers={"X-CSRF-Token": "x" * 43}
                     ).status_code == 403
    assert events(web, "acknowledged") == []
    done = perf.post(f"/api/alerts/{alert}/ack", json={"note": "seen"}, headers={"X-CSRF-Token": token})
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "Jo Bloggs <perf@example.org>"
    assert done.json()["role"] == "performance"
    by_token = web.client.post(f"/api/alerts/{alert}/ack", json={"note": "from the script"}, headers=web.auth)
    assert by_token.status_code == 200 and by_token.json()["acknowledged_by"].startswith("token test-")
    assert [(e.note, e.by_role) for e in events(web, "acknowledged")] == [("seen", "performance"),
                                                                          ("from the script", "performance")]
    [open_alert] = web.client.get("/api/alerts", headers=web.auth).json()["alerts"]
    assert open_alert["id"] == alert and open_alert["ack_note"] == "from the script"
    assert open_alert["acked_role"] == "performance"
    history = web.client.get("/api/indicators/PI1/history?provider=sandwell", headers=web.auth).json()
    assert [(e["kind"], e["by_role"]) for e in history["events"]][-1] == ("acknowledged", "performance")
    assert web.client.post("/api/alerts/999/ack", json={}, headers=web.auth).status_code == 404


def test_subscriptions_over_the_api(web):
    red_pi1(web)
    other = add_subscriber(web.settings, "Councillor", "cllr@example.org")
    lead = person(web, "lead@example.org")
    headers = {"X-CSRF-Token": csrf(lead)}
    made = lead.post("/api/subscriptions", json={"indicators": ["PI1"], "min_severity": "red"}, headers=headers)
    assert made.status_code == 201, made.text
    mine = lead.get("/api/subscriptions").json()
    assert [(s["id"], s["indicators"], s["min_severity"]) for s in mine["subscriptions"]] == [
        (made.json()["id"], ["PI1"], "red")]
    assert lead.post("/api/subscriptions", json={"subscriber": other, "tags": ["assessment"]}, headers=headers
                     ).status_code == 403
    assert lead.get(f"/api/subscriptions?subscriber={other}").status_code == 403
    assert lead.delete(f"/api/subscriptions/{made.json()['id']}").status_code == 403  # no X-CSRF-Token
    assert lead.post("/api/subscriptions", json={"indicators": ["PI99"]}, headers=headers).status_code == 422
    assert lead.post("/api/subscriptions", json={"providers": ["sandwel"]}, headers=headers).status_code == 422
    assert lead.delete(f"/api/subscriptions/{made.json()['id']}", headers=headers).status_code == 200
    assert lead.get("/api/subscriptions").json()["subscriptions"] == []
    # the performance team's script: anyone's, by id
    theirs = web.client.post("/api/subscriptions", json={"subscriber": other, "tags": ["assessment"]},
                             headers=web.auth)
    assert theirs.status_code == 201
    listed = web.client.get(f"/api/subscriptions?subscriber={other}", headers=web.auth).json()
    assert [s["tags"] for s in listed["subscriptions"]] == [[], ["assessment"]]
    assert web.client.delete(f"/api/subscriptions?id={theirs.json()['id']}&subscriber={other}",
                             headers=web.auth).status_code == 200


def test_returns_over_the_api(web):
    assert web.upload("kpi-oct.csv", kpi_csv([("2024-10", "PI1", "60")])).status_code == 201
    found = web.client.get("/api/returns", headers=web.auth).json()
    assert [(r["provider"], r["kind"], r["periods"], r["filename"]) for r in found["returns"]] == [
        ("sandwell", "kpi", ["2024-10"], "kpi-oct.csv")]
    oct_row = [c for c in found["calendar"] if c["period"] == "2024-10" and c["kind"] == "kpi"]
    assert oct_row and oct_row[0]["status"] in ("submitted", "late")
    assert any(c["status"] == "missing" for c in found["calendar"])  # the months since, never sent
    assert re.match(r"\d{4}-\d\d-\d\dT", found["returns"][0]["received_at"])
