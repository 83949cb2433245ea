"""The web app's pages behind a session (issue 12), in-process behind TestClient on both
backends: roles (a viewer cannot acknowledge, upload, snooze, manage users or change someone
else's subscriptions: 403), CSRF on every form, acknowledge and snooze recorded in the alert's
history as the CLI records them, with the role the person acted in, following and
unfollowing, the upload page's problem table (nothing stored), the returns calendar, the
board's grid and filters, the indicator page in the contract's words, and hostile text escaped
on every page.

People sign in here through the sign-in use cases (the link flow itself is
test_web_signin.py's): `person(api, email, role)` (tests/api/web_helpers.py) is a client
holding that person's session."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from alerts.store.db import session_for
from tests.api.web_helpers import HOSTILE, csrf, events, person, post, red_pi1
from tests.conftest import add_subscriber, kpi_csv

# --- roles ------------------------------------------------------------------------------


def test_a_viewer_is_refused_what_their_role_does_not_allow(web):
    alert = red_pi1(web)
    other = add_subscriber(web.settings, "Someone else", "else@example.org")
    viewer = person(web, "viewer@example.org")
    for path in ("/returns/new", "/admin/users", f"/me?subscriber={other}", "/tokens"):
        answer = viewer.get(path)
        assert answer.status_code == 403, path
        assert "needs the" in answer.text and "Your role is viewer" in answer.text
    upload = viewer.post("/returns/new", files={"file": ("k.csv", kpi_csv([("2024-11", "PI1", "10")]))},
                         data={"csrf": csrf(viewer)})
    assert upload.status_code == 403
    assert post(viewer, f"/alerts/{alert}/snooze", {"until": "2099-01-01"}).status_code == 403
    acked = post(viewer, f"/alerts/{alert}/ack", {"note": "seen"}, "/alerts")  # a viewer reads, never acknowledges
    assert acked.status_code == 403 and "Acknowledging an alert needs the performance role" in acked.text
    assert "Acknowledge" not in viewer.get("/alerts").text.replace("Acknowledgement", "")  # nor is offered it
    assert events(web, "acknowledged") == []
    assert post(viewer, "/admin/users", {"email": "x@example.org", "role": "admin"}).status_code == 403
    assert post(viewer, "/me/subscriptions", {"subscriber": str(other), "indicators": "single_assessments_45wd"}
                ).status_code == 403
    assert events(web, "snoozed") == []
    with session_for(web.settings.database_url) as s:
        from alerts.store.web_users import user_by_email
        assert user_by_email(s, "x@example.org") is None
        from alerts.store.subscriptions import subscriptions_of
        assert len(subscriptions_of(s, other)) == 1  # only the one it was made with


def test_the_nav_shows_only_what_the_role_can_use(web):
    assert "/admin/users" not in person(web, "v@example.org").get("/").text
    assert 'href="/admin/users"' in person(web, "a@example.org", "admin").get("/").text
    assert "Upload a return" not in person(web, "v2@example.org").get("/returns").text
    assert "Upload a return" in person(web, "p@example.org", "performance").get("/returns").text


def test_every_form_refuses_a_post_without_the_csrf_token(web):
    alert = red_pi1(web)
    admin = person(web, "admin@example.org", "admin")
    admin.get("/")  # has its CSRF cookie
    for path, data in ((f"/alerts/{alert}/ack", {"note": "x"}), (f"/alerts/{alert}/snooze", {"until": "2099-01-01"}),
                       ("/me/subscriptions", {}), ("/me/digest", {}), ("/admin/users", {"email": "y@example.org"}),
                       ("/me/subscriptions/1/delete", {}), ("/signout", {})):
        for sent in ({}, {"csrf": "not-the-cookie's-value-" + "x" * 21}):
            assert admin.post(path, data={**data, **sent}, follow_redirects=False).status_code == 403, (path, sent)
    upload = admin.post("/returns/new", files={"file": ("k.csv", kpi_csv([("2024-11", "PI1", "10")]))})
    assert upload.status_code == 403
    assert events(web, "acknowledged") == [] and events(web, "snoozed") == []


# --- alerts -----------------------------------------------------------------------------


def test_acknowledging_on_the_alerts_page_is_kept_in_history_and_shown_on_the_indicator(web):
    alert = red_pi1(web)
    perf = person(web, "perf@example.org", "performance", name="Jo Bloggs")
    page = perf.get("/alerts").text
    assert "In failure" in page and "Not yet" in page and "1 month (since 2024-10)" in page
    done = post(perf, f"/alerts/{alert}/ack", {"note": f"Recovery plan agreed {HOSTILE}"}, "/alerts")
    assert done.status_code == 303 and done.headers["location"] == "/alerts?done=acknowledged"
    assert "Alert acknowledged: your note is in its history." in perf.get(done.headers["location"]).text
    [ack] = events(web, "acknowledged")
    assert ack.alert_id == alert and ack.by == "Jo Bloggs <perf@example.org>" and ack.by_role == "performance"
    assert ack.note == f"Recovery plan agreed {HOSTILE}"
    lead = person(web, "lead@example.org", name="Commissioning lead")  # a viewer reads who acknowledged, and as what
    for path in ("/alerts", "/indicators/single_assessments_45wd?provider=sandwell"):
        shown = lead.get(path).text
        assert "cknowledged by Jo Bloggs (performance team)" in shown, path
        assert "Recovery plan agreed &lt;script&gt;" in shown and HOSTILE not in shown, path
    assert "Snooze" not in lead.get("/alerts").text  # a viewer is not offered it


def test_an_acknowledgement_from_the_command_line_says_so(web, cli):
    alert = red_pi1(web)
    assert cli("ack", str(alert), "--by", "Jo Bloggs", "--note", "seen", database_url=web.settings.database_url
               ).returncode == 0
    [ack] = events(web, "acknowledged")
    assert ack.by_role is None
    lead = person(web, "lead@example.org")
    for path in ("/alerts", "/indicators/single_assessments_45wd?provider=sandwell"):
        assert "cknowledged by Jo Bloggs (command line)" in lead.get(path).text, path


def test_snoozing_needs_a_date_after_today_and_is_recorded(web):
    alert = red_pi1(web)
    perf = person(web, "perf@example.org", "performance", "Performance officer")
    assert post(perf, f"/alerts/{alert}/snooze", {"until": "31/12/2099"}, "/alerts").status_code == 400
    assert post(perf, f"/alerts/{alert}/snooze", {"until": "2020-01-01"}, "/alerts").status_code == 400
    assert events(web, "snoozed") == []
    assert post(perf, f"/alerts/{alert}/snooze", {"until": "2099-12-31"}, "/alerts").status_code == 303
    assert "Alert snoozed" in perf.get("/alerts?done=snoozed").text
    [snoozed] = events(web, "snoozed")
    assert snoozed.alert_id == alert and snoozed.by == "Performance officer <perf@example.org>"
    assert "Notifications silenced until 31 December 2099" in perf.get("/alerts").text  # the local day


def test_an_unknown_alert_is_404(web):
    lead = person(web, "lead@example.org", "performance")
    assert post(lead, "/alerts/999/ack", {"note": "x"}, "/alerts").status_code == 404


# --- my subscriptions -------------------------------------------------------------------


def test_a_leader_follows_and_unfollows_and_sets_the_digest(web):
    red_pi1(web)
    lead = person(web, "lead@example.org", name="Commissioning lead")
    assert "Nothing yet" in lead.get("/me").text
    done = post(lead, "/me/subscriptions", {"indicators": "single_assessments_45wd", "providers": "sandwell",
                                             "min_severity": "red", "delivery": "both"}, "/me")
    assert done.status_code == 303 and "done=followed" in done.headers["location"]
    assert "Followed: the next notification uses it." in lead.get(done.headers["location"]).text
    from alerts.store import subscriptions as store

    with session_for(web.settings.database_url) as s:
        me = store.subscriber_by_email(s, "lead@example.org")
        assert me is not None and me.name == "Commissioning lead"
        [(sid, values)] = store.subscriptions_of(s, me.id)
    assert values["indicators"] == ["single_assessments_45wd"] and values["providers"] == ["sandwell"]
    assert values["min_severity"] == "red" and values["delivery"] == "both"
    page = lead.get("/me").text
    assert "In failure only (red)" in page and "Straight away and in the weekly digest" in page
    saved = post(lead, "/me/digest", {"cadence": "monthly"}, "/me")  # box unticked: no empty one
    assert saved.status_code == 303 and "Digest settings saved." in lead.get(saved.headers["location"]).text
    with session_for(web.settings.database_url) as s:
        me = store.subscriber_by_email(s, "lead@example.org")
        assert (me.digest_cadence, me.empty_digest) == ("monthly", False)
    preview = lead.get("/me/digest-preview")
    assert preview.status_code == 200 and "sandbox" in preview.headers["content-security-policy"]
    assert "kpi-alerts monthly digest" in preview.text  # the cadence just chosen
    assert "Single assessments completed within 45 working days" in preview.text and "Dear Commissioning lead" in \
        preview.text
    assert post(lead, f"/me/subscriptions/{sid}/delete", {}, "/me").status_code == 303
    with session_for(web.settings.database_url) as s:
        assert store.subscriptions_of(s, me.id) == []


def test_a_typo_in_a_follow_form_is_refused_and_nothing_stored(web):
    red_pi1(web)
    lead = person(web, "lead@example.org")
    for bad in ({"indicators": "PI99"}, {"providers": "sandwel"}, {"min_severity": "purple"}):
        answer = post(lead, "/me/subscriptions", bad, "/me")
        assert answer.status_code == 303 and "error=choice" in answer.headers["location"], bad
    assert "There is a problem" in lead.get("/me?error=choice").text
    from alerts.store import subscriptions as store

    with session_for(web.settings.database_url) as s:
        me = store.subscriber_by_email(s, "lead@example.org")
        assert me is None or store.subscriptions_of(s, me.id) == []


def test_someone_cannot_unfollow_another_persons_subscription(web):
    other = add_subscriber(web.settings, "Someone else", "else@example.org")
    from alerts.store import subscriptions as store

    with session_for(web.settings.database_url) as s:
        [(theirs, _)] = store.subscriptions_of(s, other)
    lead = person(web, "lead@example.org")
    post(lead, f"/me/subscriptions/{theirs}/delete", {}, "/me")
    with session_for(web.settings.database_url) as s:
        assert len(store.subscriptions_of(s, other)) == 1


def test_the_performance_role_manages_anyones_subscriptions(web):
    red_pi1(web)
    other = add_subscriber(web.settings, "Councillor", "cllr@example.org")
    perf = person(web, "perf@example.org", "performance")
    page = perf.get(f"/me?subscriber={other}")
    assert page.status_code == 200 and "Subscriptions of Councillor" in page.text
    assert post(perf, "/me/subscriptions", {"subscriber": str(other), "tags": "assessment"}, "/me").status_code == 303
    from alerts.store import subscriptions as store

    with session_for(web.settings.database_url) as s:
        assert [v["tags"] for _, v in store.subscriptions_of(s, other)] == [[], ["assessment"]]


# --- returns ----------------------------------------------------------------------------


def test_a_rejected_upload_shows_every_problem_and_stores_nothing(web):
    perf = person(web, "perf@example.org", "performance")
    bad = kpi_csv([("2024-10", "PI1", "0.6O"), ("2024-10", "PI2", ""), ("2024-13", "PI3", "50")])
    answer = perf.post("/returns/new", files={"file": ("kpi-oct.csv", bad)}, data={"csrf": csrf(perf, "/returns/new")})
    assert answer.status_code == 422
    text = answer.text
    assert "kpi-oct.csv was not accepted: nothing was stored" in text and 'id="problems"' in text
    rows = re.findall(r'<tr class="govuk-table__row"><td class="govuk-table__cell">(\d+)</td>', text)
    assert rows and "2" in rows  # the row of the typo, by number
    from alerts.store.landing import recent_returns

    with session_for(web.settings.database_url) as s:
        assert recent_returns(s) == []


def test_an_accepted_upload_shows_what_changed_and_lands_in_the_calendar(web):
    perf = person(web, "perf@example.org", "performance")
    good = kpi_csv([("2024-10", "PI1", "60"), ("2024-10", "PI2", "95")])
    answer = perf.post("/returns/new", files={"file": ("kpi-oct.csv", good)}, data={"csrf": csrf(perf, "/returns/new")})
    assert answer.status_code == 200, answer.text
    assert "Return accepted" in answer.text and "opened" in answer.text and "In failure" in answer.text
    returns = perf.get("/returns").text
    assert "kpi-oct.csv" in returns and "Sandwell" in returns
    assert "Submitted" in returns or "Late" in returns  # landed today for 2024-10: late by the calendar
    again = perf.post("/returns/new", files={"file": ("kpi-oct.csv", good)}, data={"csrf": csrf(perf, "/returns/new")})
    assert "Return duplicate" in again.text and "nothing changed" in again.text


def test_an_upload_that_is_not_a_return_is_refused_plainly(web):
    perf = person(web, "perf@example.org", "performance")
    answer = perf.post("/returns/new", files={"file": ("notes.pdf", b"%PDF-1.4 ...")},
                       data={"csrf": csrf(perf, "/returns/new")})
    assert answer.status_code == 415 and "notes.pdf was not accepted: nothing was stored" in answer.text
    none = perf.post("/returns/new", data={"csrf": csrf(perf, "/returns/new")})
    assert none.status_code == 400 and "Choose a file" in none.text


def test_the_performance_role_creates_and_revokes_api_tokens(web):
    perf = person(web, "perf@example.org", "performance")
    made = post(perf, "/tokens", {"name": "sandwell-performance", "scope": "read"}, "/tokens")
    assert made.status_code == 200 and "it is shown only once" in made.text
    token = re.search(r'<code class="kpi-token">([^<]+)</code>', made.text).group(1)
    assert token not in perf.get("/tokens").text  # never again
    assert web.client.get("/api/returns", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert post(perf, "/tokens", {"name": "sandwell-performance"}, "/tokens").status_code == 400  # name taken
    assert post(perf, "/tokens/revoke", {"name": "sandwell-performance"}, "/tokens").status_code == 303
    assert web.client.get("/api/returns", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Revoked" in perf.get("/tokens").text
    assert "Token revoked: its next request is refused." in perf.get("/tokens?done=revoked").text


# --- the board --------------------------------------------------------------------------


def test_the_board_shows_a_grid_for_many_providers_and_filters(web):
    red_pi1(web, "sandwell")
    assert web.upload("w.csv", kpi_csv([("2024-10", "PI1", "90"), ("2024-10", "PI2", "95")], "walsall")
                      ).status_code == 201
    lead = person(web, "lead@example.org")
    grid = lead.get("/").text
    assert "2 providers" in grid and "kpi-grid" in grid and "Walsall" in grid and "Sandwell" in grid
    only_red = lead.get("/?rating=red").text
    assert "Sandwell" in only_red and 'href="/?provider=walsall"' not in only_red
    one = lead.get("/?provider=sandwell").text
    assert "Months outside green" in one and "First month" in one
    assert "1 KPI in failure" in one or "in failure" in one


def test_the_indicator_page_draws_comparators_where_the_pack_has_them(web):
    assert web.upload("k.csv", kpi_csv([("2024-09", "PI8", "9.5"), ("2024-10", "PI8", "11"),
                                        ("2024-10", "PI1", "60")])).status_code == 201
    lead = person(web, "lead@example.org")
    page = lead.get("/indicators/placement_moves_3plus?provider=sandwell").text
    assert page.count("stroke-dasharray") == 2
    assert "dashed lines: statistical neighbours, England, West Midlands" in page
    assert "<title>England, West Midlands</title>" in page  # both at 10: one line, named for both
    assert "Comparators" in page and "England: 10% (2026-01)" in page
    assert "stroke-dasharray" not in lead.get("/indicators/single_assessments_45wd?provider=sandwell").text


PI1_BANDS = "Target: 85% or more. Within tolerance: above 70% and below 85%. Failure: 70% or less."


def _text(html: str) -> str:
    """A page's words, tags dropped and spaces closed up."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_indicator_page_reads_as_the_contract_does(web):
    """The bands in the contract's words, once above the chart and in every row of the table
    (one function says both); the source by its title and date; the drafting notes out of the
    way; the axis with its unit; each event with its month and the day it became known."""
    assert web.upload("k.csv", kpi_csv([("2024-09", "PI1", "72"), ("2024-10", "PI1", "60")])).status_code == 201
    page = person(web, "lead@example.org").get("/indicators/single_assessments_45wd?provider=sandwell").text
    inset = re.search(r'<div class="govuk-inset-text kpi-bands">(.*?)</div>', page, re.S).group(1)
    assert PI1_BANDS in inset
    rows = re.findall(r'<tr class="govuk-table__row">\s*<th scope="row"[^>]*>(\S+)</th>(.*?)</tr>', page, re.S)
    assert [p for p, _ in rows] == ["2024-10", "2024-09"] and all(PI1_BANDS in cells for _, cells in rows)
    assert "Source: Sandwell Children's Trust Annual Review 2024-25 (2025), section (j)" in _text(page).replace(
        "&#39;", "'")
    assert ".txt" not in page
    details = re.search(r"<details class=\"govuk-details\">(.*?)</details>", page, re.S)
    assert details and "How this rule is written" in details.group(1) and "(j) green &gt;= 85.0" in details.group(1)
    assert "(j) green" not in page.replace(details.group(0), "")  # the drafting notes only there, closed
    assert 'transform="rotate(-90' in page and ">Per cent (%)</text>" in page and ">80%</text>" in page
    [opened] = events(web, "opened")
    known = opened.at.astimezone(ZoneInfo(web.settings.timezone))
    history = _text(page)
    assert f"2024-10 (known {known.day} {known:%b %Y}): alert opened, in failure" in history
    rate = person(web, "r@example.org").get("/indicators/PI4?provider=sandwell").text  # nothing rated: today's PI4
    assert "<h1 class=\"govuk-heading-l\">PI4 Child protection plan rate per 10,000</h1>" in rate
    assert ("Target: 45 per 10,000 or less. Within tolerance: above 45 per 10,000 and below 55 per 10,000. "
            "Failure: 55 per 10,000 or more.") in rate


def test_a_worker_s_page_shades_their_own_ceiling_and_cites_the_pack_s_source(web):
    """A caseload's bands are the worker's own ceiling (22 for assessment and intervention):
    the chart shades the bands each month was rated with, as the table states them."""
    csv = ("provider,period,team,service,worker,asye,caseload\n"
           "sandwell,2025-03,ai-1,assessment_intervention,SW-1,false,25\n")
    assert web.upload("c.csv", csv.encode()).status_code == 201
    page = person(web, "lead@example.org").get("/indicators/worker_caseload?provider=sandwell"
                                               "&subject=sandwell/worker/SW-1").text
    sentence = "Target: 22 or fewer. Within tolerance: more than 22 and 26.4 or fewer. Failure: more than 26.4."
    assert page.count(sentence) == 2  # above the chart and in the month's row
    assert [page.count(f'fill="{c}"') for c in ("#cce2d8", "#fff7bf", "#f4cdc6")] == [1, 1, 1]  # green, amber, red
    assert ">Children per worker</text>" in page
    assert "Source: Sandwell Children&#39;s Trust Annual Review 2024-25 (2025), section (f)" in page  # the pack's


def test_hostile_team_and_worker_names_are_escaped_on_every_page(web):
    csv = ("provider,period,team,service,worker,asye,caseload\n"
           f"sandwell,2025-03,\"{HOSTILE}\",assessment_intervention,\"<img src=x onerror=alert(1)>\",false,40\n")
    landed = web.upload("c.csv", csv.encode())
    assert landed.status_code == 201, landed.text  # stored as sent: escaping is the pages' job
    red_pi1(web)
    admin = person(web, "admin@example.org", "admin", name=HOSTILE)
    post(admin, "/admin/users", {"email": "new@example.org", "name": HOSTILE, "role": "viewer"}, "/admin/users")
    for path in ("/", "/?provider=sandwell", "/alerts", "/returns", "/me", "/admin/users", "/returns/new", "/tokens",
                 "/indicators/worker_caseload?provider=sandwell"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path


def test_a_role_changed_on_the_users_page_applies_from_the_next_page(web):
    viewer = person(web, "v@example.org")
    assert viewer.get("/returns/new").status_code == 403  # its session is now looked up and kept
    admin = person(web, "admin@example.org", "admin")
    assert post(admin, "/admin/users", {"email": "v@example.org", "role": "performance"}, "/admin/users"
                ).status_code == 303
    assert viewer.get("/returns/new").status_code == 200
    assert "User saved." in admin.get("/admin/users?done=saved").text


def test_a_return_landed_by_another_process_shows_on_the_board_within_seconds(web, tmp_path):
    """Written behind the app's back (the CLI, a worker): no request of this app expires the
    snapshot, so the board catches up once VERSION_SECONDS have passed."""
    from alerts.steps import dispatcher_for
    from alerts.store.db import session_for as db_session
    from alerts.store.models import utcnow as now
    from alerts.usecases.ingest import ReturnLimits, ingest_path
    from rules.loader import load_catalog
    from tests.peers import poll

    lead = person(web, "lead@example.org")
    red_pi1(web)
    assert "Walsall" not in lead.get("/").text
    file = tmp_path / "walsall.csv"
    file.write_bytes(kpi_csv([("2024-10", "PI1", "90")], "walsall"))
    settings = web.settings
    with db_session(settings.database_url) as s:
        done = ingest_path(s, load_catalog(settings.rules_dir), file, dispatcher_for(settings).evaluate, now(),
                           limits=ReturnLimits.of(settings))
    assert not done.errors
    poll(lambda: "Walsall" in lead.get("/").text, 10, "the board showing a return landed elsewhere")


def test_open_alerts_filter_by_provider_and_rating(web):
    red_pi1(web, "sandwell")
    assert web.upload("w.csv", kpi_csv([("2024-10", "PI1", "80")], "walsall")).status_code == 201  # amber
    lead = person(web, "lead@example.org")
    both = lead.get("/alerts").text
    assert "2 alerts outside green" in both
    walsall = lead.get("/alerts?provider=walsall").text
    assert "1 alert outside green" in walsall and "Within tolerance" in walsall
    assert "In failure</strong> 60%" not in walsall
    red = lead.get("/alerts?state=red").text
    assert "1 alert outside green" in red and "Sandwell" in red and ", Walsall</h2>" not in red


def test_the_usual_mistakes_on_the_upload_page(web):
    """Fractions for percentages are refused whole, saying so; a blank cell lands as not reported."""
    perf = person(web, "perf@example.org", "performance")
    fractions = kpi_csv([("2024-10", "PI1", "0.86"), ("2024-10", "PI2", "0.78"), ("2024-10", "PI3", "0.18")])
    answer = perf.post("/returns/new", files={"file": ("kpi-oct.csv", fractions)},
                       data={"csrf": csrf(perf, "/returns/new")})
    assert answer.status_code == 422 and "percentages are expected as 0-100" in answer.text
    blank = kpi_csv([("2024-10", "PI1", "86"), ("2024-10", "PI2", "")])
    landed = perf.post("/returns/new", files={"file": ("kpi-oct.csv", blank)},
                       data={"csrf": csrf(perf, "/returns/new")})
    assert landed.status_code == 200 and "Return accepted" in landed.text
    assert "Not reported (left blank or out): PI2 Child in need plan visits on time" in landed.text
