"""Real services for end-to-end tests, started on free loopback ports and stopped by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.peers import free_port, poll


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """`port`: a given one (a restart on the same address, as after an outage), else a free one."""

    def __init__(self, workdir: Path, port: int | None = None):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "yes", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        poll(lambda: port_open(self.port), 10, "redis-server listening")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
