"""The broker as the API sees it: reachable (PING) and how long its queues are (LLEN).

Only Redis, the project's broker. Short timeouts: a health check or a scrape answers in about
a second when Redis is down, never hangs on it."""

from __future__ import annotations

from typing import Any

# Celery's default queue and the per-step queues (evaluate, deliver, digest): the lists a
# Redis broker keeps them in. A queue nobody uses has length 0.
QUEUES = ("celery", "evaluate", "deliver", "digest")
TIMEOUT = 1.0  # seconds to connect, and per command


def client(broker_url: str) -> Any | None:
    """A Redis client for the broker URL; None when there is no broker or it is not Redis."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    return redis.Redis.from_url(broker_url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT,
                                retry_on_timeout=False)


def ping(redis_client: Any) -> None:
    """Raises when the broker cannot be reached."""
    if not redis_client.ping():
        raise ConnectionError("no PONG")


def queue_depths(redis_client: Any) -> dict[str, int]:
    pipe = redis_client.pipeline(transaction=False)
    for queue in QUEUES:
        pipe.llen(queue)
    return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
