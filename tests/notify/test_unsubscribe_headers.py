"""RFC 8058's headers as they leave, read in the raw bytes the SMTP peer received: every alert
email and every digest carries `List-Unsubscribe` and `List-Unsubscribe-Post` as plain ASCII
values (a digest's List-Unsubscribe arrived RFC 2047 encoded, `=?utf-8?q?=3Chttps...`, which
mail clients do not offer as an unsubscribe)."""

from __future__ import annotations

import re

from tests.conftest import NEXT_WEEK, add_subscriber, kpi_csv
from tests.ingesting import ingest_bytes
from workers.tasks import digest_week_task

LINK = re.compile(rb"List-Unsubscribe: <https://alerts\.example\.org/unsubscribe\?token=[A-Za-z0-9_.-]+>\r\n")


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def test_every_alert_email_and_digest_carries_both_headers_as_plain_ascii(demo):
    settings, smtp = demo
    raws: list[bytes] = []
    smtp.on_data = lambda envelope: raws.append(envelope.original_content or envelope.content)
    add_subscriber(settings, "Lead ‘Ä’", "lead@example.org", delivery="both")  # a name the To header encodes
    ingest_bytes("x.csv", kpi_csv([("2025-04", "PI1", "60")]))  # PI1 in failure: an alert email
    digest_week_task.apply(args=(NEXT_WEEK,)).get()
    kinds = [m["X-Notification-Id"].startswith("digest-") for _, _, m in smtp.wait_for(2)]
    assert sorted(kinds) == [False, True] and len(raws) == 2  # one alert email, one digest
    for raw in raws:
        head = header_block(raw)
        assert head.isascii()
        (line,) = LINK.findall(head)  # one line: nowhere to fold an URL, and never encoded
        assert len(line) > 80 and len(line) <= 1000  # longer than 78, within RFC 5322's 998 (+ CRLF)
        assert head.count(b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") == 1
        assert b"List-Unsubscribe: =?" not in head and b"List-Unsubscribe-Post: =?" not in head
