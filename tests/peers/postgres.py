"""A throwaway PostgreSQL cluster for the suite: Debian's binaries (initdb + pg_ctl from
/usr/lib/postgresql/*/bin), a temporary data folder, a free loopback port, no Unix socket,
trust authentication, durability off (fsync, synchronous_commit: it holds test data only).

PostgreSQL refuses to run as root: as root, the folder is given to `nobody` and the binaries
run through `runuser -u nobody`. Databases are made from a template (CREATE DATABASE ...
TEMPLATE), which is a file copy: a few milliseconds, far less than running the migrations.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

USER = "postgres"  # the cluster's superuser (initdb -U), whatever the OS user


def binaries() -> Path | None:
    """The newest installed /usr/lib/postgresql/N/bin holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="kpi-alerts-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self._as = ["runuser", "-u", "nobody", "--"]
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60", "start", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off -c max_connections=200")
        self._wait()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], cwd=self.root, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "log"
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.admin():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True)

    def create_database(self, name: str, template: str = "template1") -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """Stop (fast: open connections are cut) and start again on the same port, as an upgrade
        or a failover does; returns once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-m", "fast", "-w", "-t", "60",
                  "restart")  # -l: the server's output to its log, not to this pipe (else run() never returns)
        self._wait()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """A new cluster for a fixture, stopped and removed at the end whatever happens; the test is
    skipped, saying so, where PostgreSQL is not installed."""
    import pytest

    bindir = binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql)")
    cluster = PostgresCluster(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()
