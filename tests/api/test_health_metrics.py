"""GET /healthz and GET /metrics."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import add_subscriber, kpi_csv
from tests.peers import free_port


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(api):  # noqa: ANN001, ANN201
    """GET /metrics from loopback: only KPI_ALERTS_METRICS_ALLOW's addresses may read it."""
    return TestClient(api.client.app, client=("127.0.0.1", 50000)).get("/metrics")


def test_healthz_is_200_when_the_database_answers_and_no_broker_is_set(api):
    res = api.client.get("/healthz")
    assert (res.status_code, res.json()) == (200, {"database": "ok", "broker": "not configured",
                                                   "scheduler": "not configured"})


def test_healthz_is_503_naming_the_broker_when_it_does_not_answer(make_api):
    api = make_api(broker_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    started = time.monotonic()
    res = api.client.get("/healthz")
    assert (res.status_code, res.json()) == (503, {"database": "ok", "broker": "unreachable", "scheduler": {
        "status": "stale", "last_tick": None, "age_seconds": None}})
    assert time.monotonic() - started < 5  # short timeouts: never hangs on a broker that is down


def test_healthz_is_503_naming_the_database_when_it_cannot_be_opened(api, tmp_path):
    state = api.client.app.state.api
    state.settings = state.settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}"})
    res = api.client.get("/healthz")
    assert (res.status_code, res.json()) == (503, {"database": "unreachable", "broker": "not configured",
                                                   "scheduler": "not configured"})


def test_metrics_name_landed_rejected_latency_notifications_queue_depth_and_oldest_pending(make_api, smtp_server):
    api = make_api(email_url=smtp_server.apprise_url)
    smtp_server.script = ["451 try later"]  # the alert email waits for its retry: pending
    add_subscriber(api.settings, "Lead", "lead@example.org")
    assert api.upload("kpi.csv", kpi_csv([("2024-10", "PI1", "60.1")])).status_code == 201
    assert api.upload("kpi.csv", kpi_csv([("2024-10", "PI1", "60.1")])).status_code == 200
    assert api.upload("bad.csv", b"provider,period,indicator,value\nsandwell,2024-10,PI1,x\n").status_code == 422
    assert api.upload("fin.csv", b"provider,period,measure,value\nsandwell,2024-10,contract_sum,abc\n"
                      ).status_code == 422
    assert api.upload("odd.csv", b"a,b\n1,2\n").status_code == 422
    res = scrape(api)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    got = samples(res.text)
    assert got[("kpi_alerts_returns_landed_total", (("kind", "kpi"), ("status", "accepted")))] == 1
    assert got[("kpi_alerts_returns_landed_total", (("kind", "kpi"), ("status", "duplicate")))] == 1
    assert got[("kpi_alerts_returns_rejected_total", (("kind", "kpi"),))] == 1
    assert got[("kpi_alerts_returns_rejected_total", (("kind", "finance"),))] == 1
    assert got[("kpi_alerts_returns_rejected_total", (("kind", "unknown"),))] == 1
    assert got[("kpi_alerts_returns_stored", (("evaluation", "done"), ("kind", "kpi")))] == 1
    assert got[("kpi_alerts_evaluation_latency_seconds_count", ())] == 1
    assert got[("kpi_alerts_notifications", (("channel", "email"), ("status", "pending")))] == 1
    assert got[("kpi_alerts_notifications", (("channel", "teams"), ("status", "failed")))] == 0
    assert got[("kpi_alerts_queue_depth", (("queue", "evaluate"),))] == 0
    assert got[("kpi_alerts_oldest_pending_delivery_age_seconds", ())] > 0
    # the latency of a return is observed once, however often Prometheus scrapes
    again = samples(scrape(api).text)
    assert again[("kpi_alerts_evaluation_latency_seconds_count", ())] == 1


def test_metrics_count_sent_notifications(make_api, smtp_server):
    api = make_api(email_url=smtp_server.apprise_url)
    add_subscriber(api.settings, "Lead", "lead@example.org")
    assert api.upload("kpi.csv", kpi_csv([("2024-10", "PI1", "60.1")])).status_code == 201
    smtp_server.wait_for(1)
    got = samples(scrape(api).text)
    assert got[("kpi_alerts_notifications", (("channel", "email"), ("status", "sent")))] == 1
    assert got[("kpi_alerts_notifications", (("channel", "email"), ("status", "pending")))] == 0
    assert got[("kpi_alerts_oldest_pending_delivery_age_seconds", ())] == 0


def test_each_app_has_its_own_registry(make_api):
    first, second = make_api("one.db"), make_api("two.db")
    assert first.upload("kpi.csv", kpi_csv([("2024-10", "PI1", "60.1")])).status_code == 201
    key = ("kpi_alerts_returns_landed_total", (("kind", "kpi"), ("status", "accepted")))
    assert samples(scrape(second).text)[key] == 0
    assert samples(scrape(first).text)[key] == 1
