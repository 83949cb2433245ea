"""The production shape, natively: redis-server, PostgreSQL, `kpi-alerts db upgrade`, `kpi-alerts
serve` (uvicorn), two Celery workers, beat, an aiosmtpd SMTP sink and the HTTPS Teams stand-in,
each a real process or server on loopback, as docker-compose.yml runs them (issue 11, section 6).

A Stack owns everything it starts and stops it all in `close()`, whatever happened; the
PostgreSQL cluster is the caller's (one per test module: a test restarts it)."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx2
import psycopg

from tests.conftest import ROOT
from tests.e2e.services import BIN, ApiServer, CeleryBeat, CeleryWorker, RedisServer, clean_env
from tests.peers import poll
from tests.peers.postgres import PostgresCluster
from tests.peers.smtp import SMTPPeer
from tests.peers.teams import TeamsPeer

_names = itertools.count(1)


class Stack:
    def __init__(self, workdir: Path, pg: PostgresCluster, workers: int = 2, beat_app: str = "workers.app",
                 prepare: Callable[[Stack], None] | None = None, redis_persist: bool = True,
                 **settings: str) -> None:
        """`prepare(stack)`: runs once the schema is there (`stack.url`, `stack.cli`), before
        the API, the workers and beat start.
        `redis_persist`: Redis with its append-only file (else a restart starts it empty).
        `settings`: more KPI_ALERTS_* settings, by field name."""
        self.workdir, self.pg = workdir, pg
        self.database = f"stack_{next(_names)}_{workdir.name[-20:].replace('-', '_').lower()}"
        self.started: list = []
        try:
            self.url = pg.create_database(self.database)
            self.smtp = SMTPPeer().start()
            self.started.append(self.smtp)
            self.teams = TeamsPeer().__enter__()
            self.started.append(self.teams)
            self.redis_persist = redis_persist
            self.redis = RedisServer(workdir, persist=redis_persist)
            self.started.append(self.redis)
            self.env = clean_env(database_url=self.url, broker_url=self.redis.url, email_url=self.smtp.apprise_url,
                                 email_from="kpi@example.org", base_url="https://kpi.example.org",
                                 relay_seconds="1", delivery_backoff_base="0.2", delivery_backoff_max="1",
                                 **settings)
            self.cli("db", "upgrade")  # the compose file's `migrate` service
            if prepare is not None:
                prepare(self)
            self.token = self.cli("tokens", "create", "uploader").stdout.strip()
            self.api = ApiServer(workdir, self.env)
            self.started.append(self.api)
            self.workers = [self.worker(f"worker{i + 1}") for i in range(workers)]
            self.beat = CeleryBeat(workdir, self.env, ROOT, app=beat_app)
            self.started.append(self.beat)
            # ready before the test begins: a worker consuming, beat holding the lock and ticking
            # (beat started while Redis is down exits, as RedBeat does; compose restarts it)
            for w in self.workers:
                poll(lambda w=w: " ready." in w.log.read_text(), 60, f"{w.log.stem} ready")
            poll(lambda: "Sending due task relay" in self.beat.log.read_text(), 60, "beat ticking")
        except BaseException:
            self.close()
            raise

    def stop_redis(self, nosave: bool = False) -> None:
        """`nosave`: `redis-cli shutdown nosave` (else SIGTERM)."""
        self.redis.shutdown_nosave() if nosave else self.redis.stop()
        self._redis_at = self.started.index(self.redis)
        self.started.remove(self.redis)

    def start_redis(self) -> None:
        """Back on the same port and folder (its append-only file: what was queued is kept);
        stopped in its place at the end, after the processes that use it."""
        self.redis = RedisServer(self.workdir, port=self.redis.port, persist=self.redis_persist)
        self.started.insert(self._redis_at, self.redis)

    def worker(self, name: str) -> CeleryWorker:
        w = CeleryWorker(self.workdir, self.env, ROOT, name)
        self.started.append(w)
        return w

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=self.workdir, env=self.env, capture_output=True,
                              text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"kpi-alerts {' '.join(args)}: {done.stderr[-2000:]}"
        return done

    def upload(self, name: str, data: bytes, wait: float = 0) -> httpx2.Response:
        with httpx2.Client(base_url=self.api.url, timeout=120) as http:
            return http.post("/api/returns", params={"wait": wait} if wait else None, files={"file": (name, data)},
                             headers={"Authorization": f"Bearer {self.token}"})

    def sql(self, query: str, *params: object) -> list[tuple]:
        """A read straight from PostgreSQL (autocommit: it never holds a lock the stack waits on)."""
        with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres", dbname=self.database,
                             autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(query, params).fetchall()]

    def claim_held(self, return_id: int) -> bool:
        """Whether an evaluation has claimed the return and not committed (its row lock is held)."""
        with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres", dbname=self.database,
                             autocommit=True) as conn:
            try:
                conn.execute("SELECT id FROM returns WHERE id = %s FOR UPDATE NOWAIT", (return_id,))
            except psycopg.errors.LockNotAvailable:
                return True
            return False

    def settled(self) -> bool:
        """Every return rated and every delivery finished (sent, failed or unknown)."""
        return self.sql("SELECT (SELECT count(*) FROM returns WHERE evaluated_at IS NULL) + "
                        "(SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending'))") == [(0,)]

    def wait_settled(self, timeout: float, what: str = "every return rated, every delivery finished") -> None:
        poll(self.settled, timeout, what)

    def logs(self) -> str:
        return "\n".join(p.log.read_text() for p in self.started if hasattr(p, "log") and p.log.exists())

    def close(self) -> None:
        for part in reversed(self.started):
            with contextlib.suppress(Exception):  # stop the rest whatever one did
                part.stop()
        self.started.clear()
        if hasattr(self, "url"):
            with contextlib.suppress(Exception):  # the cluster may be down after a failed restart
                self.pg.drop_database(self.database)
