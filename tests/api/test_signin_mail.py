"""Issue 18: the sign-in email is sent by the signin_mail step (a worker in broker mode), from
the recorded request: once however often the step is handed the request, and, when the broker
could not take it, by the sweep later. The SMTP peer is real; nothing of ours is mocked."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from alerts import steps
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.signin import record_link_request
from tests.api.test_web_signin import CSRF, SUBJECT, csrf, make_user, sign_in_emails
from tests.peers import free_port, poll


@pytest.fixture
def web(make_api, smtp_server):
    return make_api(email_url=smtp_server.apprise_url, email_from="kpi@example.org",
                    base_url="https://kpi.example.org")


def test_a_request_handed_on_twice_is_emailed_once(web, smtp_server):
    """A task re-delivered by the broker (a worker killed after sending, before its ack) finds
    the request claimed and sends nothing; a stranger's request sends nothing at all."""
    make_user(web.settings, "jo@example.org", name="Jo")
    with session_for(web.settings.database_url) as session:
        known = record_link_request(session, "Jo@Example.org", "test", utcnow(), "/indicators/PI1")
        stranger = record_link_request(session, "nobody@example.org", "test", utcnow())
    assert steps.signin_mail(web.settings, known) == "sent"
    assert steps.signin_mail(web.settings, known) == "nothing to send"
    assert steps.signin_mail(web.settings, stranger) == "nothing to send"
    assert steps.sweep(web.settings, steps.InProcess(web.settings)) == 0  # nothing pending either
    smtp_server.wait_for(1)
    (_, to, msg), = smtp_server.messages
    assert to == ["jo@example.org"] and msg["Subject"] == SUBJECT
    assert "next=%2Findicators%2FPI1" in msg.get_body(("plain",)).get_content()  # the landing rode along


def test_with_the_broker_down_the_answer_is_the_same_and_the_sweep_mails_it_later(make_api, smtp_server, caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: publishing fails
    api = make_api(email_url=smtp_server.apprise_url, email_from="kpi@example.org", base_url="https://kpi.example.org",
                   broker_url=dead)
    api.client.base_url = "https://testserver"  # Secure cookies come back
    make_user(api.settings, "known@example.org")
    answers = []
    for email in ("known@example.org", "stranger@example.org"):
        answer = api.client.post("/signin", data={"email": email, "csrf": csrf(api.client)})
        answers.append(CSRF.sub("", answer.text.replace(email, "ADDRESS")))
    assert answers[0] == answers[1] and "Check your email" in answers[0]
    poll(lambda: caplog.text.count("not handed to the workers") >= 2, 30, "both hand-ons failing")
    assert smtp_server.messages == []  # recorded, not mailed: the API process never sends it itself
    with time_machine.travel(utcnow() + dt.timedelta(minutes=2)):  # past the sweep's grace, inside the link's life
        pending = steps.sweep(api.settings, steps.InProcess(api.settings))  # beat's sweep, run here
    assert pending == 0  # no deliveries: the sign-in mails are not counted as those
    smtp_server.wait_for(1)
    assert [to for _, to, _ in smtp_server.messages] == [["known@example.org"]]
    assert re.search(r"https://kpi\.example\.org/signin/link\?token=", sign_in_emails(smtp_server)[0]
                     .get_body(("plain",)).get_content())
    with time_machine.travel(utcnow() + dt.timedelta(minutes=3)):
        steps.sweep(api.settings, steps.InProcess(api.settings))  # again: nothing twice
    assert len(smtp_server.messages) == 1
