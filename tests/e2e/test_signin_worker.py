"""Issue 18 in broker mode: `POST /signin` only records the request; a real Celery worker (on
real Redis) makes the link and sends the email. The API process has no email URL at all, so
an email that arrives was sent by the worker. With the mail server stalling, a known and an
unknown address are answered alike and fast."""

from __future__ import annotations

import re
import statistics
import time

import httpx2
import pytest

from tests.conftest import ROOT
from tests.e2e.services import ApiServer, CeleryWorker, RedisServer, clean_env
from tests.e2e.test_serve import kpi_alerts
from tests.peers import free_port, poll

pytestmark = pytest.mark.e2e
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SUBJECT = "Your kpi-alerts sign-in link"
ROUNDS = 4  # each address asked this often (under the 5 per address, 20 per client limits)


def test_the_worker_sends_the_sign_in_link_and_the_answers_do_not_tell(tmp_path, smtp_server):
    redis = RedisServer(tmp_path)
    port = free_port()
    api_env = clean_env(database_url=f"sqlite:///{tmp_path / 'broker.db'}", broker_url=redis.url,
                        base_url=f"http://127.0.0.1:{port}")  # no KPI_ALERTS_EMAIL_URL: this process cannot send
    worker_env = {**api_env, "KPI_ALERTS_EMAIL_URL": smtp_server.apprise_url,
                  "KPI_ALERTS_EMAIL_FROM": "kpi@example.org"}
    server = worker = None
    try:
        assert kpi_alerts(tmp_path, api_env, "db", "upgrade").returncode == 0
        assert kpi_alerts(tmp_path, api_env, "users", "add", "known@example.org").returncode == 0
        smtp_server.script = ["stall 3"]  # the first email takes seconds to be accepted
        server = ApiServer(tmp_path, api_env, port)
        worker = CeleryWorker(tmp_path, worker_env, ROOT)
        timings: dict[str, list[float]] = {"known@example.org": [], "stranger@example.org": []}
        pages = set()
        with httpx2.Client(base_url=server.url, timeout=30) as http:
            for _ in range(ROUNDS):
                for email, times in timings.items():
                    form = CSRF.search(http.get("/signin").text).group(1)
                    started = time.perf_counter()
                    answer = http.post("/signin", data={"email": email, "csrf": form})
                    times.append(time.perf_counter() - started)
                    assert answer.status_code == 200 and "Check your email" in answer.text
                    pages.add(CSRF.sub("", answer.text.replace(email, "ADDRESS")))
        assert len(pages) == 1  # the same page for both
        known, unknown = (statistics.median(t) for t in timings.values())
        print(f"sign-in answers (s), SMTP stalling 3 s: {timings}")
        assert max(known, unknown) < 1.0 and abs(known - unknown) < 0.05  # not the 4 s of SMTP inside the request
        smtp_server.wait_for(ROUNDS, timeout=60)
        poll(lambda: worker.log.read_text().count("kpi_alerts.signin_mail") >= 4 * ROUNDS, 60,
             "every request's task received and done")  # a 'received' and a 'succeeded' line each
        assert [to for _, to, _ in smtp_server.messages] == [["known@example.org"]] * ROUNDS  # once each, no stranger
        assert {m["Subject"] for _, _, m in smtp_server.messages} == {SUBJECT}
        links = {re.search(r"signin/link\?token=\S+", m.get_body(("plain",)).get_content()).group(0)
                 for _, _, m in smtp_server.messages}
        assert len(links) == ROUNDS  # a link of its own per request
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.stop()
        redis.stop()
    log = worker.log.read_text()
    assert "kpi_alerts.signin_mail" in log and "succeeded" in log  # the worker did it, not the API
    assert "signin_mail" not in server.log.read_text()
