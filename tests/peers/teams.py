"""A real HTTPS server standing in for a Teams Workflows endpoint: self-signed certificate
(trustme), scriptable status codes, every request recorded.

    peer.url                  # workflows://127.0.0.1:PORT/WORKFLOW/SIGNATURE/?verify=no
    peer.native_url           # https://prod-00.westeurope.logic.azure.com:PORT/workflows/...&verify=no (to 127.0.0.1)
    peer.script = [429, 500, "stall 5"]   # statuses for the next requests; 202 afterwards
    peer.requests             # [{"path", "query", "headers", "status", "json"}]
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from tests.peers import poll

WORKFLOW = "kpialertsworkflow01"
SIGNATURE = "CANARYSIGabcdef0123456789"  # Apprise wants [a-z0-9_-]+ for both


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        peer = self.server.peer
        with peer.lock:
            status = peer.script.pop(0) if peer.script else 202
        if isinstance(status, str) and status.startswith("stall"):
            time.sleep(float(status.split()[1]))  # the request is accepted after the stall
            status = 202
        try:
            parsed = json.loads(body or b"null")
        except ValueError:
            parsed = None
        with peer.lock:
            peer.requests.append({"path": self.path, "query": parse_qs(urlsplit(self.path).query),
                                  "headers": dict(self.headers), "status": int(status), "json": parsed})
        self.send_response(int(status))
        if int(status) == 429:
            self.send_header("Retry-After", "30")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer: TeamsPeer


TEAMS_HOST = "prod-00.westeurope.logic.azure.com"  # a Logic Apps host, as in a real webhook


class TeamsPeer:
    def __init__(self, workflow: str = WORKFLOW, signature: str = SIGNATURE) -> None:
        self.workflow = workflow
        self.signature = signature
        self.script: list[int | str] = []  # statuses for the next requests: 429, 500, 'stall 5'; default 202
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.peer = self
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The Apprise URL; verify=no because the certificate is self-signed."""
        return f"workflows://127.0.0.1:{self.port}/{self.workflow}/{self.signature}/?verify=no"

    @property
    def native_url(self) -> str:
        """The webhook as Teams hands it out (Apprise accepts it as it stands), plus verify=no.
        Apprise (2.3 on) takes it only on a Microsoft host: while the peer runs, that one name
        resolves to 127.0.0.1 in this process (a hosts-file entry; nothing leaves the machine)."""
        return (f"https://{TEAMS_HOST}:{self.port}/workflows/{self.workflow}/triggers/manual/paths/invoke"
                f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}&verify=no")

    def __enter__(self) -> TeamsPeer:
        resolve = self._resolve = socket.getaddrinfo

        def hosts_entry(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - socket.getaddrinfo's
            return resolve("127.0.0.1" if host == TEAMS_HOST else host, *args, **kwargs)

        socket.getaddrinfo = hosts_entry
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the port: later requests are refused."""
        if getattr(self, "_resolve", None) is not None:
            socket.getaddrinfo, self._resolve = self._resolve, None
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()

    def delivered(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["status"] in (200, 202)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        def arrived() -> list | None:
            with self.lock:
                return list(self.requests) if len(self.requests) >= count else None
        return poll(arrived, timeout, f"{count} requests ({len(self.requests)} so far)")


def card(request: dict) -> dict:
    """The Adaptive Card in a recorded Workflows request."""
    (attachment,) = request["json"]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


@pytest.fixture
def teams_server():
    """A TeamsPeer on a free 127.0.0.1 port, answering 202 unless scripted."""
    with TeamsPeer() as peer:
        yield peer
