"""Held returns through HTTP: `POST /api/returns` answers 202 with the queries and the performance
team is emailed once; the upload page shows the queries with a Confirm button (performance role)
and a corrected file's upload; `/returns/{id}` is the emailed link."""

from __future__ import annotations

import html
import re

import pytest

from alerts.store.db import session_for
from alerts.store.models import ReturnRecord
from tests.api.web_helpers import csrf, person, post
from tests.conftest import EXAMPLES

MARCH = (EXAMPLES / "kpi-2025-03.csv").read_bytes()
TYPO = MARCH.replace(b"2025-03", b"2025-04").replace(b",86.4", b",18.6")
QUERY = "18.6 is far outside PI1's last 12 months (68.8 to 86.4); confirm it or send a corrected file"


@pytest.fixture
def year(make_api, landed_year, smtp_server):  # noqa: ANN001, ANN201
    """The API on a copy of the landed example year, mail to the SMTP peer."""
    api = make_api(database_url=landed_year, email_url=smtp_server.apprise_url, email_from="kpi@example.org",
                   base_url="https://kpi.example.org", secret_key="test-key-0123456789")
    return api, smtp_server


def held(api, return_id: int) -> ReturnRecord:  # noqa: ANN001
    with session_for(api.settings.database_url) as s:
        return s.get(ReturnRecord, return_id)


def test_a_held_upload_is_202_with_the_queries_and_the_team_hears_once(year):
    api, smtp = year
    perf = person(api, "perf@example.org", "performance", "Pat Perf")
    person(api, "viewer@example.org", "viewer")
    res = api.upload("kpi-2025-04.csv", TYPO)
    assert res.status_code == 202, res.text
    body = res.json()
    assert list(body) == ["status", "return", "evaluations", "transitions", "not_reported", "queries"]
    assert body["status"] == "held" and body["queries"] == [f"kpi-2025-04.csv:2:value: query: {QUERY}"]
    assert set(body["return"]) == {"id", "provider", "kind", "periods", "status", "evaluation", "evaluation_error"}
    assert (body["return"]["status"], body["evaluations"], body["transitions"]) == ("held", [], [])
    return_id = body["return"]["id"]
    (_, to, msg), = smtp.wait_for(1)  # the performance team, not the viewer
    assert to == ["perf@example.org"] and "landed through the API" in msg.get_body(("plain",)).get_content()
    assert f"https://kpi.example.org/returns/{return_id}" in msg.get_body(("plain",)).get_content()
    again = api.upload("kpi-2025-04.csv", TYPO)
    assert (again.status_code, again.json()["return"]["id"]) == (202, return_id)
    assert len(smtp.messages) == 1 and held(api, return_id).held_notified_at is not None

    page = perf.get(f"/returns/{return_id}")  # the emailed link
    assert page.status_code == 200 and "Return held: 1 query to confirm" in page.text
    assert QUERY.replace("'", "&#39;") in page.text  # escaped
    assert f'action="/returns/{return_id}/confirm"' in page.text


def test_the_upload_page_shows_the_queries_and_the_performance_role_confirms(year):
    api, smtp = year
    perf = person(api, "perf@example.org", "performance", "Pat Perf")
    viewer = person(api, "viewer@example.org", "viewer")
    page = perf.post("/returns/new", files={"file": ("kpi-2025-04.csv", TYPO)},
                     data={"csrf": csrf(perf, "/returns/new")})
    assert page.status_code == 202, page.text
    assert 'id="queries"' in page.text and "Every query in kpi-2025-04.csv" in page.text
    row = re.search(r'<tr class="govuk-table__row"><td class="govuk-table__cell">([^<]*)</td>'
                    r'<td class="govuk-table__cell">([^<]*)</td><td class="govuk-table__cell">([^<]*)</td>', page.text)
    assert (row.group(1), row.group(2), html.unescape(row.group(3))) == ("2", "value", QUERY)
    return_id = int(re.search(r'action="/returns/(\d+)/confirm"', page.text).group(1))
    assert 'action="/returns/new" enctype="multipart/form-data"' in page.text  # the corrected file's upload
    assert smtp.messages == []  # the uploader saw the queries: nobody is emailed

    seen = viewer.get(f"/returns/{return_id}")
    assert seen.status_code == 200 and "Return held" in seen.text and "/confirm" not in seen.text
    assert post(viewer, f"/returns/{return_id}/confirm", {}, f"/returns/{return_id}").status_code == 403
    assert perf.post(f"/returns/{return_id}/confirm", data={"note": "x"}).status_code == 403  # no CSRF
    assert held(api, return_id).confirmed_at is None

    done = post(perf, f"/returns/{return_id}/confirm", {"note": "checked with the trust"}, f"/returns/{return_id}")
    assert (done.status_code, done.headers["location"]) == (303, f"/returns/{return_id}")
    rec = held(api, return_id)
    assert (rec.confirmed_by, rec.confirm_note, rec.evaluated_at is not None) == (
        "Pat Perf", "checked with the trust", True)
    after = perf.get(f"/returns/{return_id}")
    assert "Return held" not in after.text and "by Pat Perf" in after.text and "What changed" in after.text
    assert "PI1 Single assessments" in after.text
    twice = post(perf, f"/returns/{return_id}/confirm", {}, f"/returns/{return_id}")
    assert twice.status_code == 409 and "Pat Perf confirmed it already" in twice.text


def test_the_returns_list_links_each_return_and_marks_a_held_one(year):
    api, _ = year
    perf = person(api, "perf@example.org", "performance")
    return_id = api.upload("kpi-2025-04.csv", TYPO).json()["return"]["id"]
    listing = perf.get("/returns").text
    assert f'href="/returns/{return_id}">kpi-2025-04.csv</a>' in listing
    assert "Held</strong> queries to confirm" in listing
    assert perf.get("/returns/99999").status_code == 404
