"""A real HTTPS server standing in for a Teams Workflows endpoint: self-signed certificate
(trustme), scriptable status codes, every request recorded."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from tests.peers import poll

WORKFLOW = "kpialertsworkflow01"
SIGNATURE = "CANARYSIGabcdef0123456789"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        peer = self.server.peer
        with peer.lock:
            status = peer.script.pop(0) if peer.script else 202
        if isinstance(status, str) and status.startswith("stall"):
            time.sleep(float(status.split()[1]))
            status = 202
        with peer.lock:
            peer.requests.append({"path": self.path, "headers": dict(self.headers), "status": status,
                                  "json": json.loads(body or b"null")})
        self.send_response(int(status))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer: TeamsPeer


class TeamsPeer:
    def __init__(self) -> None:
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
        return f"workflows://127.0.0.1:{self.port}/{WORKFLOW}/{SIGNATURE}/?verify=no"

    def __enter__(self) -> TeamsPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
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


@pytest.fixture
def teams_server():
    with TeamsPeer() as peer:
        yield peer
