"""The failure counter never makes the API depend on the broker: with Redis unreachable it
counts in the process (issue 18: uploads during a Redis outage answered 500 before this)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from alerts.api.guessing import FailureLimiter
from config import Settings
from tests.peers import free_port


def test_an_unreachable_redis_counts_in_the_process_and_still_limits():
    limiter = FailureLimiter(Settings(broker_url=f"redis://127.0.0.1:{free_port()}/0", auth_failures_per_minute=3))
    assert limiter.where == "redis"
    for _ in range(3):
        limiter.check("10.0.0.1")  # answered: no exception from the dead Redis
        limiter.failed("10.0.0.1")
    with pytest.raises(HTTPException) as over:
        limiter.check("10.0.0.1")
    assert over.value.status_code == 429 and int(over.value.headers["Retry-After"]) >= 1
    limiter.check("10.0.0.2")  # another client is not affected
