"""Slow clients against a real `kpi-alerts serve` (uvicorn) over real sockets: a request head or
body that does not arrive within KPI_ALERTS_HEADER_TIMEOUT / KPI_ALERTS_BODY_TIMEOUT gets its
connection closed, while ordinary requests go on being answered (alerts/api/read_timeouts.py)."""

from __future__ import annotations

import select
import socket
import subprocess
import time

import httpx2
import pytest

from tests.e2e.services import BIN, ApiServer, clean_env

pytestmark = pytest.mark.e2e
HEADER_TIMEOUT, BODY_TIMEOUT, MARGIN = 2.0, 3.0, 3.0
SLOW = 150  # the figure: 150 slow connections held the server for 40 s


@pytest.fixture
def server(tmp_path):
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'api.db'}", header_timeout=str(HEADER_TIMEOUT),
                    body_timeout=str(BODY_TIMEOUT))
    upgraded = subprocess.run([str(BIN / "kpi-alerts"), "db", "upgrade"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
    api = ApiServer(tmp_path, env)
    yield api
    api.stop()


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (EOF or reset), without waiting."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(4096) == b""  # a server that answers instead is not a close
    except ConnectionResetError:
        return True


def wait_closed(socks: list[socket.socket], started: float, within: float) -> list[float]:
    """Seconds from `started` to each connection's close; fails if any is still open after `within`."""
    at: dict[int, float] = {}
    deadline = started + within
    while len(at) < len(socks) and time.monotonic() < deadline:
        ready = select.select([s for i, s in enumerate(socks) if i not in at], [], [], 0.05)[0]
        for s in ready:
            if closed(s):
                at[socks.index(s)] = time.monotonic() - started
    assert len(at) == len(socks), f"{len(socks) - len(at)} of {len(socks)} slow connections still open " \
                                  f"after {within} s"
    return sorted(at.values())


def test_partial_request_heads_are_closed_within_the_header_timeout_and_others_are_served(server):
    started = time.monotonic()
    slow = []
    for _ in range(SLOW):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")  # the head never ends
        slow.append(s)
    try:
        with httpx2.Client(base_url=server.url, timeout=5) as http:  # meanwhile, an ordinary request
            asked = time.monotonic()
            assert http.get("/healthz").status_code == 200
            answered_in = time.monotonic() - asked
        times = wait_closed(slow, started, HEADER_TIMEOUT + MARGIN)
        assert times[0] >= HEADER_TIMEOUT - 0.5  # closed by the timeout, not at once
        print(f"{SLOW} partial heads closed after {times[0]:.2f}-{times[-1]:.2f} s "
              f"(header timeout {HEADER_TIMEOUT} s); a normal request meanwhile answered in {answered_in:.3f} s")
    finally:
        for s in slow:
            s.close()


def test_a_head_sent_a_byte_at_a_time_is_closed_at_the_header_timeout(server):
    """Slowloris: each byte resets an idle timer, never this one (it runs from the connection)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
        sent = 0
        while sent < len(head) and time.monotonic() < started + HEADER_TIMEOUT + MARGIN:
            if closed(s):
                break
            try:
                s.sendall(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            select.select([s], [], [], 0.1)  # pace the bytes: ~10 a second
        took = wait_closed([s], started, HEADER_TIMEOUT + MARGIN)[0]
        assert sent < len(head)
        print(f"byte-at-a-time head closed after {took:.2f} s, {sent} bytes sent")


def test_a_body_that_stops_arriving_is_closed_within_the_body_timeout(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        # the unsubscribe endpoint reads its form body before anything else
        s.sendall(b"POST /unsubscribe?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000\r\n\r\n" + b"x" * 10)  # 990 bytes never come
        started = time.monotonic()
        took = wait_closed([s], started, BODY_TIMEOUT + MARGIN)[0]
        print(f"stalled body closed after {took:.2f} s (body timeout {BODY_TIMEOUT} s)")


def test_a_prompt_request_on_a_kept_alive_connection_is_not_cut(server):
    """The timers stop once a request has arrived: a keep-alive connection serves request after
    request (each sent at once) for longer than the header timeout."""
    with httpx2.Client(base_url=server.url, timeout=5) as http:
        started = time.monotonic()
        answers = 0
        while time.monotonic() < started + HEADER_TIMEOUT + 1:
            assert http.get("/healthz").status_code == 200
            answers += 1
            select.select([], [], [], 0.5)  # pace the requests on the one connection
        assert answers >= 5
