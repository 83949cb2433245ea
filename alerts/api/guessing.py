"""Guessing is slowed (issue 18): failed bearer authentications (and failed sign-in link
redemptions) are counted per client address and minute with the `limits` package; past
KPI_ALERTS_AUTH_FAILURES_PER_MINUTE a client is answered 429 with Retry-After, right token or
not, until its window moves on. The count lives in Redis when the broker is Redis (every API
process shares it), else in this process's memory. The API never depends on the broker: while
Redis cannot be reached the count falls back to this process's memory."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException, Request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class FailureLimiter:
    """`check(client)` before authenticating (HTTPException 429 when over), `failed(client)`
    after a failure. Sync: Redis is a network call, so callers run it in the threadpool."""

    def __init__(self, settings: Settings) -> None:
        url = settings.broker_url if settings.broker_url.startswith(("redis://", "rediss://")) else "memory://"
        self.where = "redis" if url != "memory://" else "memory"
        shared = storage_from_string(url, socket_timeout=1, socket_connect_timeout=1) if url != "memory://" \
            else storage_from_string(url)
        self._limiter = MovingWindowRateLimiter(shared)
        self._local = MovingWindowRateLimiter(storage_from_string("memory://"))
        self._item = RateLimitItemPerMinute(settings.auth_failures_per_minute, namespace="kpi-alerts-auth-failures")

    def _either(self, call: Callable[[MovingWindowRateLimiter], T]) -> T:
        """`call` on the shared limiter, or on this process's while the shared one cannot be reached."""
        try:
            return call(self._limiter)
        except Exception as exc:  # Redis down or stalled: count here rather than fail the request
            log.warning("auth failure counter unreachable (%s): counting in this process", type(exc).__name__)
            return call(self._local)

    def check(self, client: str) -> None:
        if not self._either(lambda lim: lim.test(self._item, client)):
            reset, _ = self._either(lambda lim: lim.get_window_stats(self._item, client))
            wait = max(1, math.ceil(reset - time.time()))
            raise HTTPException(429, f"too many failed sign-ins or API tokens from this address: try again in "
                                     f"{wait} s", headers={"Retry-After": str(wait)})

    def failed(self, client: str) -> None:
        self._either(lambda lim: lim.hit(self._item, client))


def client_address(request: Request) -> str:
    """The peer's address (serve runs with proxy_headers off: no header can choose it)."""
    return request.client.host if request.client else "unknown"
