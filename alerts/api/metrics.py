"""`GET /metrics`: Prometheus text from the app's own CollectorRegistry (never the global one,
so two apps in one process, as in the tests, count apart).

- `kpi_alerts_returns_landed_total{kind,status}` and `kpi_alerts_returns_rejected_total{kind}`:
  counted by this API process as uploads land or are rejected (`kind` "unknown" when the
  header named none); `kpi_alerts_returns_stored{kind,evaluation}`: what the database holds,
  however it landed (CLI, inbox, API);
- `kpi_alerts_evaluation_latency_seconds`: landed -> evaluated (`returns.received_at` to
  `evaluated_at`), observed at each scrape for the returns rated since the previous one
  (whoever evaluated them: in-process or a worker);
- `kpi_alerts_notifications{channel,status}`: deliveries by channel (email, teams, digest)
  and status (pending, sending, sent, failed, unknown);
- `kpi_alerts_queue_depth{queue}`: Redis LLEN of each Celery queue (0 without a broker);
- `kpi_alerts_oldest_pending_delivery_age_seconds`: 0 when nothing is pending;
- `kpi_alerts_scheduler_last_tick_age_seconds`: seconds since beat's scheduler last ticked
  (broker mode; +Inf before its first tick, NaN without a broker: no scheduler).

Who may read it, as Prometheus exporters usually are: on the app's port only clients whose
address (the TCP peer, never X-Forwarded-For) is in KPI_ALERTS_METRICS_ALLOW (loopback by
default); anyone else gets 404. With KPI_ALERTS_METRICS_PORT set, `kpi-alerts serve` serves it
on that port alone (bound to KPI_ALERTS_METRICS_HOST, loopback by default: `serve_metrics`)
and the app's port answers 404.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading
from collections.abc import Iterator
from functools import lru_cache

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import Metric

from alerts.api.broker import QUEUES, queue_depths
from alerts.api.state import state_of
from alerts.store.db import session_for
from alerts.store.heartbeats import SCHEDULER, last
from alerts.store.models import utcnow
from alerts.store.monitoring import evaluated_after, snapshot
from config import Settings
from config.settings import allowed_networks

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "unknown", "withdrawn")
CHANNELS = ("email", "teams", "digest")
KINDS = ("kpi", "finance", "caseload")
# landed -> evaluated: in-process it is tens of milliseconds, with a queue seconds to minutes
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, since: dt.datetime | None = None):
        disable_created_metrics()  # no `_created` twin of every counter (a process-wide switch)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.landed = Counter("kpi_alerts_returns_landed", "Returns landed through this API process",
                              ["kind", "status"], registry=r)
        self.rejected = Counter("kpi_alerts_returns_rejected", "Returns rejected by this API process",
                                ["kind"], registry=r)
        self.stored = Gauge("kpi_alerts_returns_stored", "Returns in the database, by kind and evaluation",
                            ["kind", "evaluation"], registry=r)
        self.latency = Histogram("kpi_alerts_evaluation_latency_seconds",
                                 "Seconds from a return landing to its evaluation committing",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.notifications = Gauge("kpi_alerts_notifications", "Deliveries by channel and status",
                                   ["channel", "status"], registry=r)
        self.queue_depth = Gauge("kpi_alerts_queue_depth", "Messages waiting in each broker queue",
                                 ["queue"], registry=r)
        self.oldest_pending = Gauge("kpi_alerts_oldest_pending_delivery_age_seconds",
                                    "Age of the oldest delivery still pending (0: none)", registry=r)
        self.scheduler_age = Gauge("kpi_alerts_scheduler_last_tick_age_seconds",
                                   "Seconds since beat's scheduler last ticked (NaN: no scheduler)", registry=r)
        self.scrape_errors = Counter("kpi_alerts_metrics_scrape_errors",
                                     "Scrapes that could not read the database or the broker", ["source"],
                                     registry=r)
        for kind in KINDS:  # every series exists from the start (a rate over a missing series is empty)
            for status in ("accepted", "restated", "duplicate", "held"):
                self.landed.labels(kind, status)
            self.rejected.labels(kind)
        self.rejected.labels("unknown")
        self._since = since or utcnow()  # latency is observed for returns rated after this
        self._lock = threading.Lock()

    def refresh(self, database_url: str, redis_client: object | None, scheduler: bool = False) -> None:
        """Read the database (and the broker) into the gauges and the latency histogram.
        `scheduler`: broker mode, where beat records its ticks."""
        now = utcnow()
        try:
            with session_for(database_url) as session:
                snap = snapshot(session)
                rated = evaluated_after(session, self._since)
                last_tick = last(session, SCHEDULER) if scheduler else None
        except Exception:
            log.warning("metrics: the database could not be read", exc_info=True)
            self.scrape_errors.labels("database").inc()
        else:
            self.stored.clear()
            for kind in KINDS:
                for evaluation in ("done", "pending"):
                    self.stored.labels(kind, evaluation).set(0)
            for (kind, pending), n in snap.returns.items():
                self.stored.labels(kind, "pending" if pending else "done").set(n)
            self.notifications.clear()
            for channel in CHANNELS:
                for status in DELIVERY_STATUSES:
                    self.notifications.labels(channel, status).set(0)
            for (channel, status), n in snap.deliveries.items():
                self.notifications.labels(channel, status).set(n)
            age = (now - snap.oldest_pending).total_seconds() if snap.oldest_pending else 0.0
            self.oldest_pending.set(max(0.0, age))
            if not scheduler:
                self.scheduler_age.set(float("nan"))
            else:
                self.scheduler_age.set(max(0.0, (now - last_tick).total_seconds()) if last_tick else float("inf"))
            for received, evaluated in rated:
                self.latency.observe(max(0.0, (evaluated - received).total_seconds()))
            if rated:
                self._since = rated[-1][1]
        depths = dict.fromkeys(QUEUES, 0)
        if redis_client is not None:
            try:
                depths = queue_depths(redis_client)
            except Exception as exc:
                log.warning("metrics: the broker could not be read (%s)", type(exc).__name__)
                self.scrape_errors.labels("broker").inc()
        for queue, n in depths.items():
            self.queue_depth.labels(queue).set(n)

    def exposition(self, database_url: str, redis_client: object | None, scheduler: bool = False) -> bytes:
        with self._lock:  # one scrape at a time: the high-water mark moves once per return
            self.refresh(database_url, redis_client, scheduler)
            return generate_latest(self.registry)


@lru_cache(maxsize=8)
def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return allowed_networks(text)


def allowed(settings: Settings, host: str | None) -> bool:
    """Whether a client at `host` may read /metrics on the app's port."""
    if settings.metrics_port is not None or not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(settings.metrics_allow))


class _Scrape:
    """What prometheus_client's own server reads on its port: the registry, refreshed first."""

    def __init__(self, metrics: Metrics, database_url: str, broker: object | None, scheduler: bool) -> None:
        self.metrics, self.database_url, self.broker, self.scheduler = metrics, database_url, broker, scheduler

    def collect(self) -> Iterator[Metric]:
        with self.metrics._lock:
            self.metrics.refresh(self.database_url, self.broker, self.scheduler)
            yield from list(self.metrics.registry.collect())

    def restricted_registry(self, names: object) -> _Scrape:
        return self


def serve_metrics(settings: Settings, metrics: Metrics, broker: object | None) -> object:
    """/metrics on KPI_ALERTS_METRICS_PORT in a daemon thread (prometheus_client's server); the server."""
    server, _thread = start_http_server(settings.metrics_port, addr=settings.metrics_host,
                                        registry=_Scrape(metrics, settings.database_url, broker,
                                                                 bool(settings.broker_url)))  # type: ignore[arg-type]
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    state = state_of(request)
    if not allowed(state.settings, request.client.host if request.client else None):
        raise HTTPException(404, "Not Found")
    body = state.metrics.exposition(state.settings.database_url, state.broker, bool(state.settings.broker_url))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
