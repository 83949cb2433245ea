"""KPI_ALERTS_MAIL_FOLDER: an email written as an .eml file instead of being sent: the message
an SMTP server gets (headers included), one file per delivery however often it is retried."""

from __future__ import annotations

import email
import email.policy

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import SendStatus
from alerts.notify.channels.digest_email import DigestEmail
from alerts.notify.channels.mail_folder import list_mail, mail_path
from config import Settings
from tests.notify.test_channels import JO, UNSUBSCRIBE, message


def folder_settings(folder, email_url: str = "mailto://localhost") -> Settings:
    return Settings(email_url=email_url, email_from="kpi-alerts@example.org", mail_folder=str(folder))


def parsed(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_an_alert_email_is_written_once_per_delivery_as_the_smtp_server_gets_it(tmp_path, smtp_server):
    sent = CHANNELS["email"].send(JO, message(), Settings(email_url=smtp_server.apprise_url,
                                                          email_from="kpi-alerts@example.org"))
    assert sent.status == SendStatus.SENT
    (_, _, over_smtp), = smtp_server.wait_for(1, timeout=10)
    settings = folder_settings(tmp_path / "mail")
    for _ in range(3):  # the delivery retried: still its one file
        assert CHANNELS["email"].send(JO, message(), settings).status == SendStatus.SENT
    files = list((tmp_path / "mail").iterdir())
    assert len(files) == 1 and files[0].suffix == ".eml"
    written = parsed(files[0])
    for header in ("Subject", "From", "To", "X-Notification-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
                   "Content-Type"):
        assert str(written[header]).split(";")[0] == str(over_smtp[header]).split(";")[0], header
    assert written["X-Notification-Id"] == "n-1" and written["List-Unsubscribe"] == UNSUBSCRIBE
    for kind in ("plain", "html"):
        assert written.get_body((kind,)).get_content() == over_smtp.get_body((kind,)).get_content()
    assert written.get_body(("plain",)).get_content().strip() == "**PI1** is red"
    assert smtp_server.messages == [smtp_server.messages[0]]  # the folder mode sent nothing
    CHANNELS["email"].send(JO, message(key="n-2"), settings)
    assert len(list_mail(tmp_path / "mail")) == 2
    assert not [p for p in (tmp_path / "mail").iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_digest_is_written_with_its_key_as_message_id(tmp_path):
    with DigestEmail(folder_settings(tmp_path)) as sender:
        for _ in range(2):
            assert sender.send(JO, message(key="digest-7"), sender.settings).status == SendStatus.SENT
    (mail,) = list_mail(tmp_path)
    written = parsed(mail_path(tmp_path, mail.name))
    assert written["Message-ID"].startswith("<digest-7@") and written["X-Notification-Id"] == "digest-7"
    assert mail.to == "Jo <jo@example.org>" and mail.text.strip() == "**PI1** is red"


def test_a_name_outside_the_folder_is_never_read(tmp_path):
    (tmp_path / "mail").mkdir()
    (tmp_path / "secret.eml").write_text("Subject: no\n\nno")
    assert mail_path(tmp_path / "mail", "../secret.eml") is None
    assert mail_path(tmp_path / "mail", ".tmp-x.eml") is None
