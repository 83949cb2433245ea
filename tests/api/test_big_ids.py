"""Ids beyond a database integer (2**63 - 1) in a path, query, form or body are answered 404
or 422, never 500: they overflowed SQLite's and PostgreSQL's drivers (issue 18). On both backends."""

from __future__ import annotations

import pytest

from tests.api.web_helpers import csrf, person, red_pi1

BIG = "999999999999999999999"
EDGE = str(2**63)  # one past the largest

API = [
    ("post", f"/api/alerts/{BIG}/ack", {"json": {}}),
    ("post", f"/api/alerts/{EDGE}/ack", {"json": {}}),
    ("post", "/api/alerts/0/ack", {"json": {}}),
    ("delete", f"/api/subscriptions/{BIG}", {}),
    ("delete", f"/api/subscriptions?id={BIG}", {}),
    ("delete", f"/api/subscriptions/1?subscriber={BIG}", {}),
    ("get", f"/api/subscriptions?subscriber={BIG}", {}),
    ("post", "/api/subscriptions", {"json": {"subscriber": int(BIG), "indicators": ["PI1"]}}),
]
PAGES = [
    ("post", f"/alerts/{BIG}/ack", {}),
    ("post", f"/alerts/{BIG}/snooze", {"until": "2099-01-01"}),
    ("post", f"/me/subscriptions/{BIG}/delete", {}),
    ("post", f"/returns/{BIG}/confirm", {}),
]


@pytest.mark.parametrize(("method", "path", "kw"), API)
def test_the_api_answers_404_or_422_for_an_id_beyond_64_bits(web, method, path, kw):
    red_pi1(web)
    perf = person(web, "perf@example.org", "performance", "Jo")
    answer = getattr(perf, method)(path, headers={"X-CSRF-Token": csrf(perf)}, **kw)
    allowed = (400, 404, 422) if "json" in kw and "subscriber" in kw["json"] else (404, 422)  # a body: malformed
    assert answer.status_code in allowed, (path, answer.status_code, answer.text)


@pytest.mark.parametrize(("method", "path", "form"), PAGES)
def test_the_pages_answer_404_or_422_for_an_id_beyond_64_bits(web, method, path, form):
    perf = person(web, "perf@example.org", "performance", "Jo")
    answer = perf.post(path, data={**form, "csrf": csrf(perf)}, follow_redirects=False)
    assert answer.status_code in (404, 422), (path, answer.status_code)
    assert perf.get(f"/returns/{BIG}").status_code in (404, 422)


@pytest.mark.parametrize("page", ["/me", "/me/digest"])
def test_a_subscriber_beyond_64_bits_in_a_query_or_form_is_no_such_subscriber(web, page):
    perf = person(web, "perf@example.org", "performance", "Jo")
    assert perf.get(f"{page}?subscriber={BIG}").status_code < 500
    token = csrf(perf)
    for path in ("/me/subscriptions", "/me/subscriptions/1/delete", "/me/digest"):
        answer = perf.post(path, data={"subscriber": BIG, "indicators": "PI1", "csrf": token}, follow_redirects=False)
        assert answer.status_code < 500, path
