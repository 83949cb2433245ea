"""Two small ASGI middlewares: `Server-Timing: app;dur=MS` on every answer (the time from the
request reaching the app to its response starting, so a client or bench/web.py can tell the
server's own time from queueing in front of it), and `ExpireAfterWrites`, which tells the
web app's snapshot that this process wrote something."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"server-timing", f"app;dur={took:.1f}".encode())]
            await send(message)

        await self.app(scope, receive, timed)


class ExpireAfterWrites:
    """After a POST, PUT, PATCH or DELETE, the snapshot (alerts/web/snapshot.py) rereads the
    database's version on the next request, so what was just written shows at once."""

    def __init__(self, app: ASGIApp, expire: Callable[[], None]) -> None:
        self.app, self.expire = app, expire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                self.expire()
