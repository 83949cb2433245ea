"""The digest sender (DigestEmail): a chunk's digests over one SMTP session (deliver_many), and a
digest retried alone (deliver), against a real aiosmtpd peer on 127.0.0.1: what arrives, each
outcome, exactly-once, every attempt the same message, and no secret leaks."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import os
import re

import pytest
from sqlalchemy import insert, select

from alerts.notify.channels.base import OutgoingMessage, Recipient, SendStatus
from alerts.notify.channels.digest_email import DigestEmail, build_message
from alerts.notify.deliver import deliver, deliver_many
from alerts.notify.unsubscribe import LINK_MARK, verify_token
from alerts.store.db import get_engine, session_for
from alerts.store.deliveries import recover_stale, requeue
from alerts.store.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from alerts.store.secrets import signing_key
from config import Settings, use_settings
from tests.peers.smtp import SMTPPeer

PASSWORD = "CANARY-S3cr3t"
JO = Recipient("Jo Bloggs", "jo@example.org", None)


def setup(new_database, peer: SMTPPeer, n: int, send_timeout: float = 5, channel: str = "digest"
          ) -> tuple[Settings, list[int]]:
    settings = Settings(database_url=new_database('bulk.db'), broker_url="",
                        email_url=peer.apprise_url, email_from="kpi-alerts@example.org",
                        base_url="https://kpi.example.org", secret_key="test-secret", send_timeout=send_timeout)
    use_settings(settings)
    get_engine(settings.database_url)
    now = utcnow()
    if not n:
        return settings, []
    with session_for(settings.database_url) as s:
        s.execute(insert(Subscriber.__table__), [dict(id=i, name=f"Member {i}", email=f"m{i}@example.org",
                                                      empty_digest=True, created_at=now) for i in range(1, n + 1)])
        s.execute(insert(Delivery.__table__), [dict(
            key=f"digest-2025-W12.s{i}.email", subscriber_id=i, channel=channel, return_id=None,
            subject=f"Weekly KPI digest 2025-W12 <{i}>", severity="red", events=[], status="pending",
            body_html=f'<p>Digest for &lt;Member {i}&gt;</p><a href="{LINK_MARK}">Unsubscribe</a>',
            body_text=f"Digest for <Member {i}>\nUnsubscribe: {LINK_MARK}\n",
            attempts=0, next_attempt_at=now, created_at=now) for i in range(1, n + 1)])
        s.commit()
        ids = list(s.execute(select(Delivery.id).order_by(Delivery.id)).scalars())
    return settings, ids


def statuses(settings: Settings) -> list[str]:
    with session_for(settings.database_url) as s:
        return list(s.execute(select(Delivery.status).order_by(Delivery.id)).scalars())


@pytest.fixture
def peer():
    with SMTPPeer() as p:
        yield p


def test_a_chunk_goes_over_one_session_each_message_once_with_both_parts(new_database, peer):
    settings, ids = setup(new_database, peer, 5)
    with session_for(settings.database_url) as s:
        counts = deliver_many(s, settings, ids)
    assert counts == {"sent": 5}
    arrived = peer.wait_for(5)
    assert peer.sessions == 1  # one EHLO for the whole chunk
    assert sorted(peer.by_notification_id().values()) == [1] * 5
    for sender, to, msg in arrived:
        i = int(re.search(r"\.s(\d+)\.", msg["X-Notification-Id"]).group(1))
        assert sender == "kpi-alerts@example.org" and to == [f"m{i}@example.org"]
        assert msg["Message-ID"] == f"<digest-2025-W12.s{i}.email@example.org>"  # the same on any re-send
        assert msg["Subject"] == f"Weekly KPI digest 2025-W12 <{i}>"
        assert msg.get_content_type() == "multipart/alternative"
        text, html = [p for p in msg.iter_parts()]  # text first, HTML last: clients show the last they can
        assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
        assert f"Digest for <Member {i}>" in text.get_content()
        assert f"&lt;Member {i}&gt;" in html.get_content() and "<Member" not in html.get_content()
        # the signed link replaced the placeholder in both parts, and matches the header
        link = re.search(r"<(https://kpi\.example\.org/unsubscribe\?token=([\w.-]+))>", msg["List-Unsubscribe"])
        assert link and link.group(1) in text.get_content() and link.group(1) in html.get_content()
        assert LINK_MARK not in msg.as_string()
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        with session_for(settings.database_url) as s:
            assert verify_token(signing_key(s, settings), link.group(2)).subscriber_id == i


def test_one_refused_message_does_not_stop_the_chunk_and_is_retried_once(new_database, peer):
    settings, ids = setup(new_database, peer, 4)
    peer.script = ["250 OK", "451 try again later", "550 mailbox unavailable"]
    with session_for(settings.database_url) as s:
        counts = deliver_many(s, settings, ids)
    assert counts == {"sent": 2, "pending": 2}
    assert statuses(settings) == ["sent", "pending", "pending", "sent"]
    later = utcnow() + dt.timedelta(hours=1)  # both retries are due by then
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids, now=later) == {"sent": 4}  # two sent now, two already
    peer.wait_for(4)
    assert statuses(settings) == ["sent"] * 4
    assert sorted(peer.by_notification_id().values()) == [1] * 4
    with session_for(settings.database_url) as s:
        outcomes = list(s.execute(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.id)).scalars())
        detail = s.execute(select(DeliveryAttempt.detail).where(DeliveryAttempt.outcome == "failed")).scalars().all()
    assert outcomes.count("failed") == 2 and outcomes.count("sent") == 4
    assert any("451" in d for d in detail) and any("550" in d for d in detail)


def test_server_down_stops_the_chunk_and_leaves_the_rest_untouched(new_database, peer):
    settings, ids = setup(new_database, peer, 5)
    peer.stop()
    with session_for(settings.database_url) as s:
        counts = deliver_many(s, settings, ids)
    assert counts == {"pending": 1, "not attempted": 4}
    with session_for(settings.database_url) as s:
        attempts = list(s.execute(select(Delivery.attempts).order_by(Delivery.id)).scalars())
    assert attempts == [1, 0, 0, 0, 0]  # only the first was tried; the rest were never claimed
    peer.start()
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids, now=utcnow() + dt.timedelta(hours=1)) == {"sent": 5}
    peer.wait_for(5)
    assert sorted(peer.by_notification_id().values()) == [1] * 5


def test_a_session_the_server_dropped_is_reopened_without_failing_the_message(new_database, peer):
    settings, _ = setup(new_database, peer, 0)
    message = OutgoingMessage(key="k-1", subject="s", html="<p>h</p>", text="t", severity="red")
    with DigestEmail(settings) as bulk:
        assert bulk.send(JO, message, settings).status == SendStatus.SENT
        peer.restart()  # the kept connection is now dead
        again = OutgoingMessage(key="k-2", subject="s", html="<p>h</p>", text="t", severity="red")
        assert bulk.send(JO, again, settings).status == SendStatus.SENT
    peer.wait_for(2)
    assert peer.sessions == 2


def test_a_stall_during_data_is_unknown_never_resent_and_the_chunk_goes_on(new_database, peer):
    settings, ids = setup(new_database, peer, 3, send_timeout=0.5)
    peer.script = ["stall 2"]  # the server holds the reply to DATA beyond our timeout
    with session_for(settings.database_url) as s:
        counts = deliver_many(s, settings, ids)
    assert counts == {"unknown": 1, "sent": 2}
    peer.wait_for(2)
    assert peer.attempts == 3
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids, now=utcnow() + dt.timedelta(hours=1)) == {"unknown": 1, "sent": 2}
    assert peer.attempts == 3  # the unknown one is never handed over again (a person may re-queue it)
    assert statuses(settings) == ["unknown", "sent", "sent"]


class _DiesAfterSending(DigestEmail):
    """A digest sender whose process ends right after the server accepted the message, before
    the outcome is recorded: a worker killed at the worst moment."""

    def send(self, recipient, message, settings):  # noqa: ANN001, ANN201 - the Channel signature
        super().send(recipient, message, settings)
        os._exit(137)


def test_crash_after_a_send_loses_nothing_and_sends_nothing_twice(new_database, peer):
    """A worker that dies mid-chunk: the claimed one becomes unknown, the rest go on the rerun."""
    import multiprocessing as mp

    settings, ids = setup(new_database, peer, 4)

    def run() -> None:
        get_engine(settings.database_url).dispose(close=False)  # the parent's pooled connections stay the parent's
        with session_for(settings.database_url) as s:
            deliver_many(s, settings, ids, channels={"digest": _DiesAfterSending(settings)})

    proc = mp.get_context("fork").Process(target=run)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 137
    peer.wait_for(1)
    assert statuses(settings) == ["sending", "pending", "pending", "pending"]
    with session_for(settings.database_url) as s:
        assert recover_stale(s, utcnow() + dt.timedelta(hours=1), dt.timedelta(minutes=5)) == ids[:1]
        assert deliver_many(s, settings, ids) == {"unknown": 1, "sent": 3}
    peer.wait_for(4)
    assert sorted(peer.by_notification_id().values()) == [1] * 4


def test_login_once_per_chunk_and_the_password_never_shows(new_database, caplog):
    with SMTPPeer(auth=("kpi", PASSWORD)) as peer:
        settings, ids = setup(new_database, peer, 3)
        caplog.set_level(logging.DEBUG)
        with session_for(settings.database_url) as s:
            assert deliver_many(s, settings, ids) == {"sent": 3}
        peer.wait_for(3)
        assert peer.logins == ["kpi"]
        peer.stop()  # and a failing session names the server, never the password
        with DigestEmail(settings) as bulk:
            result = bulk.send(JO, OutgoingMessage("k", "s", "<p>h</p>", "t", "red"), settings)
        assert result.status == SendStatus.FAILED and bulk.unavailable
        assert f"127.0.0.1:{peer.port}" in result.detail
    with session_for(settings.database_url) as s:
        stored = " ".join(str(v) for v in s.execute(select(DeliveryAttempt.detail)).scalars())
    assert PASSWORD not in caplog.text + result.detail + stored


def test_a_header_with_a_line_break_is_refused_not_sent(new_database, peer):
    settings, _ = setup(new_database, peer, 0)
    evil = OutgoingMessage("k", "s", "<p>h</p>", "t", "red",
                           headers={"List-Unsubscribe": "<x>\r\nBcc: all@example.org"})
    with DigestEmail(settings) as bulk:
        assert bulk.send(JO, evil, settings).status == SendStatus.CONFIG_ERROR
    assert peer.attempts == 0


def test_build_message_is_multipart_alternative_with_stable_ids():
    msg = build_message(("", "kpi@example.org"), JO,
                        OutgoingMessage("n-1", "PI1  in failure\n", "<b>x</b>", "x", "red"), "<n-1@example.org>")
    assert msg["To"] == "Jo Bloggs <jo@example.org>" and msg["Subject"] == "PI1 in failure"
    assert msg["Message-ID"] == "<n-1@example.org>" and msg["X-Notification-Id"] == "n-1"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_no_usable_email_url_is_a_config_error_per_delivery(new_database, peer):
    settings, ids = setup(new_database, peer, 2)
    broken = settings.model_copy(update={"email_url": ""})
    with session_for(settings.database_url) as s:
        assert deliver_many(s, broken, ids) == {"failed": 2}
    assert peer.attempts == 0


def test_an_alert_email_still_goes_through_apprise(new_database, peer):
    """A delivery on the email channel (an alert) is one Apprise call, first attempt or retry."""
    settings, ids = setup(new_database, peer, 1, channel="email")
    with session_for(settings.database_url) as s:
        assert deliver(s, settings, ids[0]) == "sent"
    (_, _, msg), = peer.wait_for(1)
    assert msg["X-Application"] != "kpi-alerts"  # Apprise's own message, not DigestEmail's


UNICODE = OutgoingMessage("n-8", "PI1 ≥ 85%", "<p>PI1 ≥ 85% ↗ better, £10.19m</p>\n<p>Siân</p>",
                          "PI1 ≥ 85% ↗ better, £10.19m\nSiân\n", "red")


def _arrives(peer: SMTPPeer, message: OutgoingMessage) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Send one message over DigestEmail: its MAIL FROM parameters, and per part the transfer
    encoding and the decoded content."""
    settings = Settings(email_url=peer.apprise_url, email_from="kpi-alerts@example.org", send_timeout=5)
    with DigestEmail(settings) as bulk:
        assert bulk.send(JO, message, settings).status == SendStatus.SENT
    ((_, _, msg),) = peer.wait_for(1)
    parts = {p.get_content_type(): (p["Content-Transfer-Encoding"], p.get_content().replace("\r\n", "\n"))
             for p in msg.iter_parts()}
    return peer.mail_options[0], parts


def test_parts_go_8bit_as_written_when_the_server_offers_8bitmime(peer):
    options, parts = _arrives(peer, UNICODE)
    assert options == ["BODY=8BITMIME"]
    assert parts == {"text/plain": ("8bit", UNICODE.text), "text/html": ("8bit", UNICODE.html + "\n")}


def test_parts_are_7bit_encoded_for_a_server_without_8bitmime():
    with SMTPPeer(eight_bit=False) as peer:
        options, parts = _arrives(peer, UNICODE)
    assert options == []
    assert {cte for cte, _ in parts.values()} <= {"quoted-printable", "base64"}
    assert parts["text/plain"][1] == UNICODE.text and parts["text/html"][1] == UNICODE.html + "\n"


def test_a_part_with_a_line_over_998_octets_is_encoded_the_rest_stays_8bit(peer):
    long_line = "<p>" + "x" * 1200 + "</p>"
    options, parts = _arrives(peer, OutgoingMessage("n-9", "s", long_line, "short text ≥\n", "red"))
    assert options == ["BODY=8BITMIME"]
    assert parts["text/plain"][0] == "8bit" and parts["text/html"][0] in ("quoted-printable", "base64")
    assert parts["text/html"][1] == long_line + "\n"


def test_each_outcome_is_committed_before_the_next_message_leaves(new_database, peer):
    """One commit per delivery: the previous outcome and this claim, both before this send."""
    settings, ids = setup(new_database, peer, 3)
    seen: list[list[str]] = []
    peer.on_data = lambda envelope: seen.append(statuses(settings))  # another connection, mid-send
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids) == {"sent": 3}
    assert seen == [["sending", "pending", "pending"], ["sent", "sending", "pending"], ["sent", "sent", "sending"]]
    assert statuses(settings) == ["sent"] * 3


def _without_token(text: str) -> str:
    """The unsubscribe token is signed when each attempt leaves: everything else must match."""
    return re.sub(r"token=[\w.-]+", "token=T", text)


def test_a_digest_retried_by_hand_is_the_same_message_as_its_first_attempt(new_database, peer):
    """Defect 1: an unknown outcome re-queued (`deliveries retry ID`) and sent by deliver() goes
    through the digest sender again: same Message-ID, same text part, same headers."""
    settings, ids = setup(new_database, peer, 1, send_timeout=0.5)
    peer.script = ["stall 2"]  # the server holds the reply beyond our timeout: unknown
    first: list[bytes] = []
    peer.on_data = lambda envelope: first.append(envelope.original_content or envelope.content)
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids) == {"unknown": 1}
        assert requeue(s, ids[0], utcnow())
        assert deliver(s, settings, ids[0]) == "sent"
    (_, _, retried), = peer.wait_for(1)
    attempt = email.message_from_bytes(first[0], policy=email.policy.default)  # what the chunk handed over
    assert attempt["Message-ID"] == "<digest-2025-W12.s1.email@example.org>"
    for header in ("Message-ID", "X-Notification-Id", "X-Application", "Subject", "From", "To",
                   "List-Unsubscribe-Post"):
        assert attempt[header] == retried[header], header
    assert [p.get_content_type() for p in attempt.iter_parts()] == [p.get_content_type() for p in retried.iter_parts()]
    for a, b in zip(attempt.iter_parts(), retried.iter_parts(), strict=True):
        assert _without_token(a.get_content()) == _without_token(b.get_content())
    assert "Digest for <Member 1>" in retried.get_body(("plain",)).get_content()  # its own text, not converted HTML


def test_a_digest_whose_first_send_failed_is_retried_by_the_digest_sender(new_database, peer):
    """Defect 1: the sweep's retry (deliver(), one delivery) is the message the chunk sends."""
    settings, ids = setup(new_database, peer, 2)
    peer.script = ["451 try again later"]
    with session_for(settings.database_url) as s:
        assert deliver_many(s, settings, ids) == {"pending": 1, "sent": 1}
        assert deliver(s, settings, ids[0], utcnow() + dt.timedelta(hours=1)) == "sent"
    (_, _, chunk), (_, _, retried) = peer.wait_for(2)
    assert retried["Message-ID"] == "<digest-2025-W12.s1.email@example.org>"
    assert retried["X-Application"] == chunk["X-Application"] == "kpi-alerts"
    text = retried.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Digest for <Member 1>\nUnsubscribe: https://kpi.example.org/unsubscribe?token=")


def test_the_header_cache_is_used_and_changes_nothing_in_what_is_sent():
    """The reused header registry (digest_email._ReusedHeaders) pays for itself in the digest
    benchmark; it leans on the email package's HeaderRegistry internals, so a Python upgrade
    that changes them must fail here: the cache must be hit and the bytes must equal those the
    standard policy makes."""
    from email.policy import SMTP

    from alerts.notify.channels import digest_email

    def build(i: int, policy) -> bytes:  # noqa: ANN001 - an email policy
        saved = digest_email.HEADERS
        digest_email.HEADERS = policy
        try:
            msg = build_message(("KPI alerts", "kpi@example.org"), Recipient(f"Member {i}", f"m{i}@example.org", None),
                                OutgoingMessage(f"k-{i}", f"Digest ≥ {i}", "<p>h</p>", "t", "red",
                                                {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}),
                                f"<k-{i}@example.org>", eight_bit=True)
            del msg["Date"]
            return msg.as_bytes().replace(msg.get_boundary().encode(), b"BOUNDARY")  # random per message
        finally:
            digest_email.HEADERS = saved

    registry = digest_email._REGISTRY
    before = registry.__call__.cache_info().hits
    for i in range(3):
        assert build(i, digest_email.HEADERS) == build(i, SMTP)
    assert registry.__call__.cache_info().hits > before  # From, MIME-Version, ... were reused
    assert isinstance(registry["subject"], type) and registry.__getitem__.cache_info().hits > 0
