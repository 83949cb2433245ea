"""Read timeouts for `kpi-alerts serve`: uvicorn closes an idle keep-alive connection
(timeout_keep_alive) but has no limit on how long a request's head or body may take to arrive,
so a few hundred clients sending a header a byte at a time hold the server's connections for
as long as they like (slowloris).

`timed_protocol(header, body)` is uvicorn's httptools protocol with one timer per connection:
armed when the connection opens (and when the next request on it begins), it closes the
connection unless the request head is complete within `header` seconds; re-armed then, unless
the body is complete within `body` seconds. Once the request has arrived the timer is off: the
app's own work and the response are not limited here.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class ReadTimeoutProtocol(HttpToolsProtocol):
    header_timeout = 10.0
    body_timeout = 60.0
    _read_timer: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float | None) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = None if seconds is None else self.loop.call_later(seconds, self._too_slow)

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection whose request did not arrive in time")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # the next request on a kept-alive connection
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._arm(None)


def timed_protocol(header: float, body: float) -> type[ReadTimeoutProtocol]:
    """The protocol class for uvicorn's `http=` with these timeouts (seconds)."""
    return type("ReadTimeouts", (ReadTimeoutProtocol,), {"header_timeout": header, "body_timeout": body})
