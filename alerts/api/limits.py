"""Request bodies are bounded before anything reads them (a pure ASGI middleware).

A request whose Content-Length is over the limit for its path is answered 413 at once, its
body never read; one that sends more than the limit (chunked, or lying about its length) is
stopped with 413 as soon as the excess arrives. So a 2 GB upload costs neither 2 GB of memory
nor of temporary disk: Starlette spools what it parses, and it parses at most the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENVELOPE = 64 * 1024  # multipart boundaries and part headers around the file
SMALL_BODY = 64 * 1024  # every other request (the unsubscribe form is a few bytes)


class TooLarge(HTTPException):
    def __init__(self, detail: str):
        super().__init__(413, detail)


def too_large_detail(limit_mb: float) -> str:
    return (f"upload too large: at most {limit_mb:g} MB (the KPI_ALERTS_MAX_UPLOAD_MB limit); "
            "split the return by period")


class BodyLimit:
    """`uploads`: path -> (bytes of body allowed, the 413 message) for upload routes; every
    other path gets SMALL_BODY."""

    def __init__(self, app: ASGIApp, uploads: dict[str, tuple[int, str]]):
        self.app = app
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, detail = self.uploads.get(scope["path"], (SMALL_BODY, f"request body over {SMALL_BODY:,} bytes"))
        length = _content_length(scope)
        if length is not None and length > limit:
            await _refuse(send, detail)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(detail)
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, watch)
        except TooLarge:  # raised where no exception handler turned it into the response
            if started:
                raise
            await _refuse(send, detail)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    # Connection: close: the rest of the body is never read, so the connection cannot be reused
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
