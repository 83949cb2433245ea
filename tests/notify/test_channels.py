"""The email and Teams channels against real peers on 127.0.0.1 (aiosmtpd, an HTTPS server with a
self-signed certificate) through real Apprise: what arrives, each outcome, and no secret leaks."""

from __future__ import annotations

import json
import logging
import tempfile

import apprise
import pytest

from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import OutgoingMessage, Recipient, SendResult, SendStatus
from alerts.notify.channels.email import EmailChannel, email_url
from alerts.notify.channels.teams import TeamsChannel, workflows_url
from alerts.notify.redact import MASK, install_log_redaction, safe_url, scrub
from config import Settings
from tests.peers.smtp import SMTPPeer
from tests.peers.teams import SIGNATURE, WORKFLOW, TeamsPeer, card

# The smtp_server and teams_server fixtures come from tests/peers via tests/conftest.py.

PASSWORD = "CANARY-S3cr3t"
UNSUBSCRIBE = "<https://kpi.example.org/unsubscribe?t=AbC%2Fd%3D%3D+e>"  # %-escapes and + must survive
JO = Recipient(name="Jo", email="jo@example.org", teams_url=None)


def message(key: str = "n-1", subject: str = "PI1 in failure", html: str = "<p>PI1 is <b>red</b></p>",
            text: str = "**PI1** is red", headers: dict[str, str] | None = None) -> OutgoingMessage:
    return OutgoingMessage(key=key, subject=subject, html=html, text=text, severity="red",
                           headers={"List-Unsubscribe": UNSUBSCRIBE,
                                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
                           if headers is None else headers)


def settings_for(email_url: str = "", send_timeout: float = 5) -> Settings:
    # model_copy: the channels' own check of a bad timeout stays testable past Settings' validation
    return Settings(email_url=email_url, email_from="kpi-alerts@example.org").model_copy(
        update={"send_timeout": send_timeout})


def send_email(peer: SMTPPeer, msg: OutgoingMessage | None = None, timeout: float = 5) -> SendResult:
    return CHANNELS["email"].send(JO, msg or message(), settings_for(peer.apprise_url, timeout))


def send_teams(url: str, msg: OutgoingMessage | None = None, timeout: float = 5) -> SendResult:
    return CHANNELS["teams"].send(Recipient("Jo", None, url), msg or message(), settings_for(send_timeout=timeout))


def parts(msg) -> dict[str, str]:  # noqa: ANN001 - an email.message.EmailMessage
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


# -- email --------------------------------------------------------------------------------------------


def test_email_arrives_as_multipart_alternative_with_our_headers_verbatim(smtp_server):
    result = send_email(smtp_server, message(key="n-42:email:jo"))
    assert result.status == SendStatus.SENT, result.detail
    (sender, to, msg), = smtp_server.wait_for(1)
    assert sender == "kpi-alerts@example.org" and to == ["jo@example.org"]
    assert msg["Subject"] == "PI1 in failure" and msg["To"] == "jo@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert body["text/html"].strip() == "<p>PI1 is <b>red</b></p>"
    assert body["text/plain"] == "**PI1** is red"  # our text part, not Apprise's conversion of the HTML
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]  # HTML last: preferred
    assert msg.get_all("X-Notification-Id") == ["n-42:email:jo"]
    assert msg.get_all("List-Unsubscribe") == [UNSUBSCRIBE]
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    assert len(msg.get_all("Message-ID")) == 1
    assert smtp_server.by_notification_id() == {"n-42:email:jo": 1}
    assert 0 < result.elapsed < 5 and "success" in result.detail


ALERT_TEXT = ("[RED] Sandwell: 1 KPI in failure, 1 within tolerance in the 2024-10 return.\n\nPI1 Single assessments\n"
              "Rating: RED, in failure (was within tolerance)\nValue: 68.8%\nBands: green \u2265 85; red \u2264 70\n"
              "Team: Wednesbury & West Bromwich \u2014 \u00fcber <b>not markup</b>\n"
              "Note: a line longer than seventy-six characters, which quoted-printable wraps softly, " * 3 + "\n"
              "trailing spaces   \nFrom the start of a line\n.\n")


def test_our_text_part_arrives_exactly_beside_our_html_with_the_headers_intact(smtp_server):
    """Through the real SMTP peer: the text/plain part is our text, byte for byte once decoded
    (unicode, long lines, trailing spaces, a line 'From ...' and a lone dot), the HTML part ours."""
    html = "<p>Sandwell: <strong>2 KPIs</strong> in failure &mdash; see <a href='https://x.example/s'>status</a></p>"
    msg = message(key="return-7.s1.email.abc", subject="[RED] Sandwell: 2 KPIs in failure", html=html, text=ALERT_TEXT)
    assert send_email(smtp_server, msg).status == SendStatus.SENT
    (_, _, got), = smtp_server.wait_for(1)
    assert got.get_content_type() == "multipart/alternative"
    plain, rich = got.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    # quoted-printable keeps line breaks as lines, and lines on the wire end in CRLF (RFC 5322)
    assert plain.get_content().replace("\r\n", "\n") == ALERT_TEXT and plain.get_content_charset() == "utf-8"
    assert rich.get_content() == html
    assert got.get_all("X-Notification-Id") == ["return-7.s1.email.abc"]
    assert got.get_all("List-Unsubscribe") == [UNSUBSCRIBE]
    assert got.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    assert len(got.get_all("Message-ID")) == 1 and got["Subject"] == "[RED] Sandwell: 2 KPIs in failure"


def test_the_text_part_goes_through_apprise_s_email_plugin_under_our_schema():
    """The URL is Apprise's mailto:// read by NotifyEmail itself, under kpimailto(s)://."""
    from alerts.notify.channels.apprise_email import NotifyEmailWithText, own_text_url, register

    register()
    register()  # once per process, however often it is asked
    base = email_url("mailtos://kpi:p%40ss@smtp.example.org:587?mode=starttls", "jo@example.org", "a@example.org", {})
    service = apprise.Apprise.instantiate(own_text_url(base))
    assert isinstance(service, NotifyEmailWithText)
    plain = apprise.Apprise.instantiate(base)
    for attr in ("smtp_host", "port", "secure_mode", "user", "password", "targets", "from_addr", "retry"):
        assert getattr(service, attr) == getattr(plain, attr), attr
    assert service.url(privacy=True).startswith("kpimailtos://kpi:****@smtp.example.org/")


def test_without_a_text_part_the_plugin_is_apprise_s_own(smtp_server):
    from alerts.notify.channels.apprise_email import own_text_url, register

    register()
    notifier = apprise.Apprise()
    assert notifier.add(own_text_url(email_url(smtp_server.apprise_url, "jo@example.org", "a@example.org", {})))
    assert notifier.notify(title="Hello", body="<p>PI1 is <b>red</b></p>", body_format=apprise.NotifyFormat.HTML)
    (_, _, got), = smtp_server.wait_for(1)
    assert parts(got)["text/plain"].strip() == "PI1 is red"  # Apprise's conversion, as before


def test_email_never_sets_a_second_message_id_or_notification_id(smtp_server):
    headers = {"Message-ID": "<ours@example.org>", "X-Notification-Id": "forged", "Reply-To": "team@example.org"}
    assert send_email(smtp_server, message(key="n-7", headers=headers)).status == SendStatus.SENT
    (_, _, msg), = smtp_server.wait_for(1)
    assert msg.get_all("Message-ID") != ["<ours@example.org>"] and len(msg.get_all("Message-ID")) == 1
    assert msg.get_all("X-Notification-Id") == ["n-7"]
    assert msg.get_all("Reply-To") == ["team@example.org"]


def test_hostile_text_arrives_as_rendered(smtp_server):
    subject = '<script>alert(1)</script> & "quotes" \u2014 Sandwell\u2019s \u00fcber'
    html = "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;&gt;&lt;img onerror=x&gt; =HYPERLINK(1)</p>"
    assert send_email(smtp_server, message(subject=subject, html=html)).status == SendStatus.SENT
    (_, _, msg), = smtp_server.wait_for(1)
    assert msg["Subject"] == subject  # a header is text: the channel passes it on as given
    assert parts(msg)["text/html"].strip() == html  # still escaped: 0 raw <script in the HTML part
    assert "<script" not in parts(msg)["text/html"]
    assert parts(msg)["text/plain"] == "**PI1** is red"  # the text part is the message's own, as given


@pytest.mark.parametrize("reply", ["451 4.3.0 try again later", "550 5.1.1 no such mailbox"])
def test_smtp_refusals_fail(smtp_server, reply):
    smtp_server.script = [reply]
    result = send_email(smtp_server)
    assert result.status == SendStatus.FAILED and "failure" in result.detail
    assert "example.org" not in result.detail and "RECIPIENT" in result.detail  # the log keeps no address
    assert smtp_server.attempts == 1 and not smtp_server.messages  # retry=0: one attempt only
    assert send_email(smtp_server).status == SendStatus.SENT  # the script is used up: 250
    assert len(smtp_server.wait_for(1)) == 1


def test_stall_beyond_the_send_timeout_is_unknown_and_may_have_gone(smtp_server):
    smtp_server.script = ["stall 3.5"]
    result = send_email(smtp_server, timeout=2)
    assert result.status == SendStatus.UNKNOWN and "timeout" in result.detail
    assert 1.9 <= result.elapsed < 4
    # Apprise stopped waiting; the peer still accepts the message after its stall: it did go.
    (_, _, msg), = smtp_server.wait_for(1, timeout=5)
    assert msg["X-Notification-Id"] == "n-1"


def test_server_down_fails_then_delivers_when_back_on_the_same_port(smtp_server):
    port = smtp_server.port
    smtp_server.stop()
    result = send_email(smtp_server)
    assert result.status == SendStatus.FAILED and result.elapsed < 5
    smtp_server.start()
    assert smtp_server.port == port
    assert send_email(smtp_server).status == SendStatus.SENT
    assert smtp_server.by_notification_id() == {"n-1": 1}


@pytest.mark.parametrize("url", ["", "   ", "json://127.0.0.1:9/", "mailto://", "mailto://127.0.0.1:2525?mode=bogus",
                                 "mailto://127.0.0.1:2525?from=not-an-address"])
def test_unusable_email_url_is_a_config_error(url):
    result = EmailChannel().send(JO, message(), settings_for(url))
    assert result.status == SendStatus.CONFIG_ERROR and result.detail


@pytest.mark.parametrize("address", [None, "", "a@example.org, b@example.org", "a@example.org b@example.org"])
def test_recipient_without_one_address_is_a_config_error(smtp_server, address):
    result = EmailChannel().send(Recipient("Jo", address, None), message(), settings_for(smtp_server.apprise_url))
    assert result.status == SendStatus.CONFIG_ERROR
    assert smtp_server.attempts == 0


def test_header_with_a_line_break_is_a_config_error(smtp_server):
    msg = message(headers={"List-Unsubscribe": "<https://x.example/u>\r\nBcc: everyone@example.org"})
    assert send_email(smtp_server, msg).status == SendStatus.CONFIG_ERROR
    assert smtp_server.attempts == 0


def test_invalid_send_timeout_is_a_config_error(smtp_server):
    result = send_email(smtp_server, timeout=-1)
    assert result.status == SendStatus.CONFIG_ERROR and smtp_server.attempts == 0


def test_email_url_replaces_recipients_and_retry_and_keeps_the_rest():
    base = ("mailtos://kpi:p%40ss+w0rd@smtp.example.org:587/old@example.org?mode=starttls&from=Alerts%20%3Ca%40x.org%3E"
            "&to=z@example.org&CC=c@example.org&bcc=b@example.org&retry=3&cto=5&%2BReply-To=r@example.org")
    url = email_url(base, "jo+kpi@example.org", "ignored@example.org", {"X-Notification-Id": "k 1/%2F"})
    assert url.startswith("mailtos://kpi:p%40ss+w0rd@smtp.example.org:587?")
    assert "ignored" not in url and "old@" not in url and "c@example" not in url and "z@example" not in url
    service = apprise.Apprise.instantiate(url)
    assert service.targets == [(False, "jo+kpi@example.org")] and not service.cc and not service.bcc
    assert service.password == "p@ss+w0rd" and service.secure_mode == "starttls"
    assert tuple(service.from_addr) == ("Alerts", "a@x.org")
    assert service.retry == 0 and service.socket_connect_timeout == 5
    assert service.headers == {"Reply-To": "r@example.org", "X-Notification-Id": "k 1/%2F"}


def test_email_url_adds_from_when_the_base_has_none():
    service = apprise.Apprise.instantiate(email_url("mailto://127.0.0.1:2525", "jo@example.org",
                                                    "KPI alerts <kpi@example.org>", {}))
    assert tuple(service.from_addr) == ("KPI alerts", "kpi@example.org") and service.host == "127.0.0.1"


# -- Teams --------------------------------------------------------------------------------------------


def test_teams_card_arrives_with_title_and_body(teams_server):
    result = send_teams(teams_server.url, message(subject="PI1 in failure", text="**PI1** is red\n\n- Sandwell"))
    assert result.status == SendStatus.SENT, result.detail
    (request,) = teams_server.wait_for(1)
    assert request["path"].startswith(f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke?")
    assert request["query"]["sig"] == [SIGNATURE] and request["query"]["api-version"] == ["2016-06-01"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"]["type"] == "message"
    content = card(request)
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    blocks = {b["id"]: b for b in content["body"]}
    assert set(blocks) == {"title", "body"}  # image=no: no Image element linking an outside host
    assert blocks["title"]["text"] == "PI1 in failure" and blocks["title"]["type"] == "TextBlock"
    assert blocks["body"]["text"] == "**PI1** is red\n\n- Sandwell" and blocks["body"]["type"] == "TextBlock"


def our_card(text: str = "Sandwell") -> dict:
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": {
        "type": "AdaptiveCard", "version": "1.4", "body": [
            {"type": "TextBlock", "text": text, "wrap": True},
            {"type": "FactSet", "facts": [{"title": "Value", "value": "68.8%"}, {"title": "Team", "value": text}]}],
        "actions": [{"type": "Action.OpenUrl", "title": "Open PI1", "url": "https://x.example/i/PI1?provider=s"}]}}]}


@pytest.mark.parametrize("url", ["url", "native_url"])
def test_our_card_is_posted_as_it_is_through_the_workflows_plugin(teams_server, url, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the card's template file is written
    doc = our_card()
    result = send_teams(getattr(teams_server, url), message(text=json.dumps(doc)))
    assert result.status == SendStatus.SENT, result.detail
    (request,) = teams_server.wait_for(1)
    assert request["json"] == doc  # our card, not Apprise's title-and-body card
    assert request["query"]["sig"] == [SIGNATURE]
    assert not list(tmp_path.iterdir())  # the template file is gone


def test_text_that_looks_like_an_apprise_token_arrives_as_written(teams_server):
    """Apprise fills {{app_title}}, {{app_body}}, ... in a template; a team named like one is text."""
    hostile = 'Team {{app_title}} {{ app_body }} {{{app_id}}} "quoted" \\ back \u00fcber {{'
    doc = our_card(hostile)
    assert send_teams(teams_server.url, message(subject="TITLE", text=json.dumps(doc))).status == SendStatus.SENT
    (request,) = teams_server.wait_for(1)
    assert request["json"] == doc and "TITLE" not in json.dumps(request["json"])


def test_teams_native_webhook_url_works_too(teams_server):
    result = send_teams(teams_server.native_url)
    assert result.status == SendStatus.SENT, result.detail
    (request,) = teams_server.wait_for(1)
    assert request["query"]["sig"] == [SIGNATURE] and card(request)["body"][-1]["text"] == "**PI1** is red"


@pytest.mark.parametrize(("code", "expected"), [(202, SendStatus.SENT), (200, SendStatus.SENT),
                                                 (429, SendStatus.FAILED), (500, SendStatus.FAILED)])
def test_teams_status_outcomes(teams_server, code, expected):
    teams_server.script = [code]
    result = send_teams(teams_server.url)
    assert result.status == expected, result.detail
    assert len(teams_server.wait_for(1)) == 1  # retry=0: one request whatever the answer


def test_teams_stall_beyond_the_send_timeout_is_unknown(teams_server):
    teams_server.script = ["stall 2.5"]
    result = send_teams(teams_server.url, timeout=1)
    assert result.status == SendStatus.UNKNOWN and 0.9 <= result.elapsed < 2.5


def test_teams_down_fails():
    with TeamsPeer() as peer:
        url = peer.url
    result = send_teams(url)
    assert result.status == SendStatus.FAILED and result.elapsed < 5


@pytest.mark.parametrize("url", ["", "workflows://127.0.0.1/not a valid id/sig/", "https://example.org/hook",
                                 "mailto://127.0.0.1:25"])
def test_unusable_teams_url_is_a_config_error(url):
    result = TeamsChannel().send(Recipient("Jo", None, url), message(), settings_for())
    assert result.status == SendStatus.CONFIG_ERROR


def test_workflows_url_keeps_parameters_and_sets_retry():
    url = workflows_url(f"workflows://host:8443/{WORKFLOW}/{SIGNATURE}/?verify=no&retry=2&image=yes&api-version=x")
    service = apprise.Apprise.instantiate(url)
    assert service.retry == 0 and service.include_image and not service.verify_certificate
    assert service.api_version == "x" and service.workflow == WORKFLOW and service.signature == SIGNATURE
    assert not apprise.Apprise.instantiate(workflows_url(f"workflows://host/{WORKFLOW}/{SIGNATURE}/")).include_image


# -- secrets ------------------------------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog):
    """Every record of every logger, down to Apprise's TRACE (5) and aiosmtpd's DEBUG, with
    Apprise and urllib3 turned up from their quiet default: secrets stay out even then."""
    caplog.set_level(1)
    for name in ("apprise", "urllib3"):
        caplog.set_level(1, logger=name)
    return caplog


def leaks(caplog, results: list[SendResult], *secrets: str) -> list[str]:
    texts = [r.detail for r in results] + [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), record.exc_text or "", record.stack_info or ""]
    return [t for t in texts for s in secrets if s in t]


def test_smtp_password_never_in_results_or_logs(all_logs):
    with SMTPPeer(auth=("kpi", PASSWORD)) as peer:
        assert PASSWORD in peer.apprise_url
        results = [send_email(peer)]
        assert results[0].status == SendStatus.SENT, results[0].detail
        assert peer.logins == ["kpi"]  # the password really was used
        peer.script = ["550 no"]
        results.append(send_email(peer))
        wrong = CHANNELS["email"].send(JO, message(), settings_for(peer.apprise_url.replace("S3cr3t", "S3cr3t-x")))
        results.append(wrong)
        peer.stop()
        results.append(send_email(peer))
    assert [r.status for r in results] == [SendStatus.SENT, SendStatus.FAILED, SendStatus.FAILED, SendStatus.FAILED]
    assert "kpi:****@127.0.0.1" in results[0].detail
    assert any(r.name == "apprise" and r.levelno < logging.DEBUG for r in all_logs.records)  # TRACE was captured
    assert not leaks(all_logs, results, PASSWORD)


def test_workflow_id_and_signature_never_in_results_or_logs(all_logs):
    with TeamsPeer() as peer:
        peer.script = [202, 500, 429]
        results = [send_teams(peer.url) for _ in range(3)] + [send_teams(peer.native_url)]
        url = peer.url
    results.append(send_teams(url))  # refused: requests' error text holds the whole request URL
    assert [r.status for r in results] == [SendStatus.SENT, SendStatus.FAILED, SendStatus.FAILED, SendStatus.SENT,
                                            SendStatus.FAILED]
    assert any("Socket Exception" in r.getMessage() for r in all_logs.records)  # the risky record was logged
    assert any("urllib3" in r.name for r in all_logs.records)
    assert not leaks(all_logs, results, SIGNATURE, WORKFLOW)


def test_redaction_covers_other_loggers_exceptions_and_unregistered_urls(all_logs):
    install_log_redaction(["tok-CANARY-1234", f"mailtos://u:{PASSWORD}x@smtp.example.org"])
    log = logging.getLogger("kpi.test")
    log.warning("token %s and url %s", "tok-CANARY-1234", f"mailtos://u:{PASSWORD}x@smtp.example.org")
    log.debug("unregistered https://h/workflows/wfCANARY77/triggers/manual/paths/invoke?sv=1.0&sig=sigCANARY88")
    log.debug("unregistered workflows://h:1/wfCANARY99/sigCANARY00/?verify=no and smtp://u:pwCANARY11@h")
    try:
        raise RuntimeError(f"failed for mailto://u:{PASSWORD}x@h")
    except RuntimeError:
        log.exception("send crashed")
    assert not leaks(all_logs, [], "tok-CANARY", PASSWORD, "wfCANARY", "sigCANARY", "pwCANARY")
    assert MASK in all_logs.text and "send crashed" in all_logs.text and "RuntimeError" in all_logs.text


def test_safe_url_hides_passwords_and_workflow_secrets():
    assert PASSWORD not in safe_url(f"mailtos://kpi:{PASSWORD}@smtp.example.org?from=a@example.org")
    shown = safe_url(f"workflows://h.example.org/{WORKFLOW}/{SIGNATURE}/")
    assert shown.startswith("workflow://h.example.org/") and WORKFLOW not in shown and SIGNATURE not in shown
    native = safe_url(f"https://h/workflows/{WORKFLOW}/triggers/manual/paths/invoke?sv=1.0&sig={SIGNATURE}")
    assert WORKFLOW not in native and SIGNATURE not in native
    assert safe_url(f"unknown://user:{PASSWORD}@h/x") == "unknown://user:****@h/x"
    assert scrub("mailto://user:****@h") == "mailto://user:****@h"  # Apprise's privacy form stays readable


def test_redaction_cost_per_record_does_not_grow_with_subscribers():
    """10,000 registered Teams URLs cost about what 10 do (the same run, not an absolute time)."""
    import time

    from alerts.notify.redact import SecretRegistry, secrets_of

    def registry(n: int) -> SecretRegistry:
        r = SecretRegistry()
        for i in range(n):
            r.add(secrets_of(f"workflows://prod-{i % 300}.westeurope.logic.azure.com:443/wf{i:012x}abcdef/"
                             f"sig{i:020x}XYZ/"))
        r.add(secrets_of(f"mailtos://kpi:p%40ss{PASSWORD}@smtp.example.org"))
        return r

    line = ("Sending workflows notification to https://prod-7.westeurope.logic.azure.com:443/workflows/"
            "wf000000000007abcdef/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig="
            "sig00000000000000000007XYZ: HTTP 202 in 0.31 s (login kpi:p@ssCANARY-S3cr3t)")
    small, large = registry(10), registry(10_000)
    assert "wf000000000007abcdef" not in large.scrub(line) and "sig00000000000000000007XYZ" not in large.scrub(line)
    assert PASSWORD not in large.scrub(line) and PASSWORD not in small.scrub(line)

    def cost(r: SecretRegistry) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(200):
                r.scrub(line)
            best = min(best, time.perf_counter() - start)
        return best

    cost(small), cost(large)  # warm up
    assert cost(large) < 3 * cost(small)


def test_apprise_and_urllib3_are_quiet_by_default_unless_configured():
    from alerts.notify.redact import QUIETED, quiet

    loggers = [logging.getLogger(name) for name in QUIETED]
    saved = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.NOTSET)
        loggers[1].setLevel(logging.DEBUG)  # an operator's explicit choice stands
        quiet()
        assert loggers[0].level == logging.WARNING and loggers[1].level == logging.DEBUG
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.setLevel(level)
