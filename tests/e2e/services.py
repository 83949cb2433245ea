"""Real services for end-to-end tests, started on free loopback ports and stopped by PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.peers import free_port, poll


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_process(proc: subprocess.Popen, patience: float) -> None:
    """SIGTERM, then SIGKILL after `patience` seconds; returns once it has exited."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class RedisServer:
    """`port`: a given one (a restart on the same address, as after an outage), else a free one.
    `persist`: keep an append-only file (what was queued survives a restart); without it a
    restart starts empty: no queue, no beat schedule, no lock."""

    def __init__(self, workdir: Path, port: int | None = None, persist: bool = True):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "yes" if persist else "no", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        poll(lambda: port_open(self.port), 10, "redis-server listening")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def shutdown_nosave(self) -> None:
        """`redis-cli shutdown nosave`: gone, and nothing written to disk."""
        subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "shutdown", "nosave"],
                       capture_output=True, timeout=10)
        self.proc.wait(timeout=10)


BIN = Path(sys.executable).parent


def clean_env(**settings: str) -> dict[str, str]:
    """The environment without any KPI_ALERTS_* of the caller's, plus these settings (by field name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({f"KPI_ALERTS_{k.upper()}": v for k, v in settings.items()})
    return env


class ApiServer:
    """`kpi-alerts serve` on a free loopback port, as a real uvicorn process; its log in `log`."""

    def __init__(self, workdir: Path, env: dict[str, str], port: int | None = None, exe: Path = BIN / "kpi-alerts"):
        self.port = port or free_port()
        self.log = workdir / f"serve-{self.port}.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=workdir, env=env, stdout=self._out, stderr=subprocess.STDOUT)
        try:
            poll(self._ready, 30, f"kpi-alerts serve on port {self.port}")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"kpi-alerts serve exited {self.proc.returncode}:\n{self.log.read_text()}")
        return port_open(self.port)

    def stop(self) -> None:
        stop_process(self.proc, 15)
        self._out.close()


class CeleryWorker:
    """`celery -A workers.app worker` (solo pool), its log in `log`."""

    def __init__(self, workdir: Path, env: dict[str, str], root: Path, name: str = "worker"):
        self.log = workdir / f"{name}.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", "workers.app", "worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
            cwd=root, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """kill -9: no shutdown, no acknowledgement, its database connection cut mid-transaction."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.proc, 30)
        self._out.close()


class CeleryBeat:
    """`celery -A APP beat` (RedBeat: the schedule and its lock in Redis), its log in `log`."""

    def __init__(self, workdir: Path, env: dict[str, str], root: Path, name: str = "beat", app: str = "workers.app"):
        self.log = workdir / f"{name}.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", app, "beat", "--loglevel=INFO", "-s", str(workdir / f"{name}-schedule")],
            cwd=root, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_process(self.proc, 30)
        self._out.close()
