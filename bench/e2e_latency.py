"""Benchmark: end to end, upload to notification, with real processes on loopback.

Measures, for RETURNS uploads posted one after another over HTTP (`POST /api/returns`, each a
one-row KPI return that moves an alert: PI1 at 60 (red) then 90 (green) for the same provider in
successive past periods, across 10 providers), the time from each 201 to the arrival of that
return's email at an SMTP sink (aiosmtpd, time taken as the DATA arrives) and of its card at an
HTTPS Teams stand-in (time taken as the request arrives); p50/p95/p99 and the sustained rate
(returns/s over the run, until the last message arrived). Two stacks, started and stopped by the
script (process groups killed whatever happens):

- broker: redis-server, a PostgreSQL cluster (tests/peers/postgres.py), `kpi-alerts db upgrade`,
  `kpi-alerts serve`, two Celery workers (`celery -A workers.app worker -Q
  evaluate,deliver,digest --pool=solo --concurrency 1` each); no beat (the broker is up, so
  nothing waits for the relay).
- embedded (the default: SQLite, no broker, tasks in-process): `kpi-alerts serve` alone; the
  email and the card are sent before the 201, so the figure there is upload -> 201 (and arrival).

Where the time goes (broker): from the database, received -> evaluated (`returns`) and
delivery created -> claimed -> sent (`deliveries`). Floors in the same run: a bare smtplib
session sending one message to the same sink, and a bare HTTP GET round trip to /healthz.
Target: upload-201 -> email p95 <= 150 ms.

    .venv/bin/python bench/e2e_latency.py [--returns 200] [--paced 40] [--only broker|embedded]

The broker stack is measured twice: RETURNS back to back (the 201 comes at once, so the uploads
outrun two workers and the figure is mostly queueing), then PACED uploads each posted only after
the previous one's email and card arrived (the latency of one return on an idle stack). The
database split covers every return of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.peers

from tests.peers import free_port, poll  # noqa: E402
from tests.peers.postgres import PostgresCluster, binaries  # noqa: E402
from tests.peers.smtp import SMTPPeer  # noqa: E402
from tests.peers.teams import TeamsPeer  # noqa: E402

BIN = Path(sys.executable).parent
PROVIDERS = 10
TARGET_P95 = 0.150
SUBJECT = re.compile(rb"^Subject: (.*?)\r?\n(?![ \t])", re.M | re.S)
KEY = re.compile(r"(bench\d\d)\S*.*?(20\d\d-\d\d)", re.I | re.S)


def returns(count: int) -> list[tuple[str, str, bytes]]:
    """(provider, period, CSV) per upload: provider i % 10, its successive periods from 2024-04,
    PI1 at 60 (red) then 90 (green), so every upload opens or closes that provider's alert."""
    out = []
    for i in range(count):
        provider, n = f"bench{i % PROVIDERS:02d}", i // PROVIDERS
        year, month = divmod(2024 * 12 + 3 + n, 12)
        period = f"{year}-{month + 1:02d}"
        value = 60 if n % 2 == 0 else 90
        out.append((provider, period, f"provider,period,indicator,value\n{provider},{period},PI1,{value}\n".encode()))
    return out


class TimedList(list):
    """The Teams peer's request list, each request stamped with its arrival time."""

    def append(self, item: dict) -> None:
        item["t"] = time.time()
        super().append(item)


class Group:
    """A process in its own process group, killed with its children whatever happens."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path):
        self.name, self.log = name, log
        self._out = log.open("w")
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self._out.close()


def env_for(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALERTS_")}
    env.update({f"KPI_ALERTS_{k.upper()}": v for k, v in settings.items()})
    return env


def cli(work: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "kpi-alerts"), *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kpi-alerts {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def port_open(port: int) -> bool:
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def serve(work: Path, env: dict[str, str], port: int, stack: list[Group]) -> Group:
    api = Group("kpi-alerts serve", [str(BIN / "kpi-alerts"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                work, env, work / "serve.log")
    stack.append(api)
    poll(lambda: api.alive() and port_open(port), 60, "kpi-alerts serve listening")
    return api


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "kpialertsbenchboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload_all(port: int, token: str, uploads: list[tuple[str, str, bytes]],
               sinks: Sinks | None = None) -> dict[tuple[str, str], tuple]:
    """POST each return on one keep-alive connection; (sent, 201) wall times per (provider, period).
    With `sinks`, paced: each upload waits for the previous one's email and card (no queueing)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = {}
    for provider, period, data in uploads:
        body, ctype = multipart(f"{provider}-{period}.csv", data)
        start = time.time()
        conn.request("POST", "/api/returns", body=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
        res = conn.getresponse()
        text = res.read()
        done = time.time()
        if res.status != 201:
            raise RuntimeError(f"upload {provider} {period}: {res.status} {text[:500]!r}")
        out[(provider, period)] = (start, done)
        if sinks is not None:
            sinks.wait([(provider, period)], 30)
    conn.close()
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def line(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<38} (none)"
    ms = [v * 1000 for v in values]
    return (f"  {label:<38} p50 {pct(ms, 50):7.1f}  p95 {pct(ms, 95):7.1f}  p99 {pct(ms, 99):7.1f}  "
            f"max {max(ms):7.1f} ms  (n={len(ms)})")


class Sinks:
    """The SMTP sink and the Teams stand-in, arrival times per (provider, period)."""

    def __init__(self) -> None:
        self.smtp = SMTPPeer(keep=False)
        self.email: dict[tuple[str, str], float] = {}
        self.smtp.on_data = self._on_data
        self.teams = TeamsPeer()
        self.teams.requests = TimedList()

    def _on_data(self, envelope: object) -> None:
        t = time.time()
        m = SUBJECT.search(envelope.content)  # type: ignore[attr-defined]
        k = KEY.search(m.group(1).decode(errors="replace")) if m else None
        if k:
            self.email.setdefault((k.group(1).lower(), k.group(2)), t)

    def teams_arrivals(self) -> dict[tuple[str, str], float]:
        out = {}
        for r in list(self.teams.requests):
            text = repr(r["json"])
            k = KEY.search(text)
            if k:
                out.setdefault((k.group(1).lower(), k.group(2)), r["t"])
        return out

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        want = set(keys)
        with contextlib.suppress(TimeoutError):
            poll(lambda: want <= set(self.email) and want <= set(self.teams_arrivals()), timeout,
                 "every email and card")


def split_from_db(url: str, since: float, until: float) -> dict[str, list[float]]:
    """received -> evaluated per return; delivery created -> claimed, claimed -> sent per channel;
    for the returns received between the wall times `since` and `until`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    out: dict[str, list[float]] = {"received -> evaluated": []}
    with engine.connect() as conn:
        lo, hi = (dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None) for t in (since, until))
        for received, evaluated in conn.execute(text("SELECT received_at, evaluated_at FROM returns")):
            if received and evaluated and lo <= _dt(received) <= hi:
                out["received -> evaluated"].append((_dt(evaluated) - _dt(received)).total_seconds())
        rows = conn.execute(text("SELECT channel, created_at, claimed_at, sent_at FROM deliveries"))
        for channel, created, claimed, sent in rows:
            if not (created and lo <= _dt(created)) or (claimed and _dt(claimed) < lo):
                continue
            if created and claimed and _dt(created) <= hi + dt.timedelta(seconds=600):
                out.setdefault(f"{channel}: created -> claimed", []).append(
                    (_dt(claimed) - _dt(created)).total_seconds())
            if claimed and sent:
                out.setdefault(f"{channel}: claimed -> sent", []).append((_dt(sent) - _dt(claimed)).total_seconds())
    engine.dispose()
    return out


def _dt(v: object) -> dt.datetime:
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    assert isinstance(v, dt.datetime)
    return v.replace(tzinfo=None)


def report(name: str, times: dict, sinks: Sinks, first: float) -> None:
    teams = sinks.teams_arrivals()
    keys = list(times)
    to_201 = [times[k][1] - times[k][0] for k in keys]
    email = [sinks.email[k] - times[k][1] for k in keys if k in sinks.email]
    card = [teams[k] - times[k][1] for k in keys if k in teams]
    email_up = [sinks.email[k] - times[k][0] for k in keys if k in sinks.email]
    last = max([times[k][1] for k in keys] + [sinks.email.get(k, 0) for k in keys] + [teams.get(k, 0) for k in keys])
    print(f"{name}: {len(keys)} uploads, {len(email)} emails and {len(card)} cards matched")
    print(line("upload sent -> 201", to_201))
    print(line("201 -> email accepted by the sink", email))
    print(line("201 -> Teams card received", card))
    print(line("upload sent -> email accepted", email_up))
    print(f"  sustained: {len(keys) / (last - first):.1f} returns/s (first upload to last arrival, "
          f"{last - first:.1f} s)")
    missing = len(keys) - min(len(email), len(card))
    if missing:
        print(f"  MISSING: {len(keys) - len(email)} emails, {len(keys) - len(card)} cards never arrived")


def floors(sinks: Sinks, api_port: int, n: int = 50) -> None:
    from bench.floors import message

    data = message(4000)
    per = []
    for i in range(n):
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", sinks.smtp.port, timeout=30) as smtp:
            smtp.sendmail("kpi-alerts@example.org", [f"floor{i}@example.org"], data)
        per.append(time.perf_counter() - start)
    conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
    rtt = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        rtt.append(time.perf_counter() - start)
    conn.close()
    print("floor (same run):")
    print(line("bare smtplib, one message a session", per))
    print(line("bare HTTP GET /healthz (keep-alive)", rtt))


def broker_run(work: Path, count: int, paced: int, sinks: Sinks, stack: list[Group], pg: list[PostgresCluster]) -> None:
    bindir = binaries()
    if bindir is None or shutil.which("redis-server") is None:
        raise RuntimeError("needs redis-server and PostgreSQL (make test installs them)")
    redis_port = free_port()
    redis = Group("redis-server", [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind",
                                   "127.0.0.1", "--dir", str(work), "--save", "", "--appendonly", "yes",
                                   "--maxmemory-policy", "noeviction"], work, os.environ.copy(), work / "redis.log")
    stack.append(redis)
    poll(lambda: redis.alive() and port_open(redis_port), 10, "redis-server listening")
    cluster = PostgresCluster(bindir)
    pg.append(cluster)
    url = cluster.create_database("kpi_bench")
    port = free_port()
    env = env_for(database_url=url, broker_url=f"redis://127.0.0.1:{redis_port}/0",
                  email_url=sinks.smtp.apprise_url, email_from="kpi@example.org", base_url=f"http://127.0.0.1:{port}")
    cli(work, env, "db", "upgrade")
    token = cli(work, env, "tokens", "create", "bench").strip()
    cli(work, env, "subscribe", "Lead", "--email", "lead@example.org", "--teams", sinks.teams.url,
        "--min-severity", "amber")
    workers = []
    for n in range(2):
        w = Group(f"worker{n}", [str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", "evaluate,deliver,digest",
                                 "--pool=solo", "--concurrency=1", "--loglevel=WARNING", "--without-gossip",
                                 "--without-mingle", "--without-heartbeat", "-n", f"bench{n}@%h"],
                  ROOT, env, work / f"worker{n}.log")
        stack.append(w)
        workers.append(w)
    serve(work, env, port, stack)
    time.sleep(3)  # the workers connect and run their start-up relay
    for w in workers:
        w.alive()
    uploads = returns(count + paced)
    first = time.time()
    times = upload_all(port, token, uploads[:count])
    sinks.wait(list(times), 90)
    report("broker (PostgreSQL, Redis, 2 solo workers), back to back", times, sinks, first)
    where(url, first, max(t for _, t in times.values()))
    if paced:
        first = time.time()
        times = upload_all(port, token, uploads[count:], sinks)
        report("broker, paced (each upload after the previous one's email and card)", times, sinks, first)
        where(url, first, max(t for _, t in times.values()))
    floors(sinks, port)


def where(url: str, since: float, until: float) -> None:
    print("  where the time goes (database clocks):")
    for label, values in split_from_db(url, since - 1, until).items():
        print(line(label, values))


def embedded_run(work: Path, count: int, sinks: Sinks, stack: list[Group]) -> None:
    port = free_port()
    url = f"sqlite:///{work / 'embedded.db'}"
    env = env_for(database_url=url, email_url=sinks.smtp.apprise_url, email_from="kpi@example.org",
                  base_url=f"http://127.0.0.1:{port}")
    token = cli(work, env, "tokens", "create", "bench").strip()
    cli(work, env, "subscribe", "Lead", "--email", "lead@example.org", "--teams", sinks.teams.url,
        "--min-severity", "amber")
    serve(work, env, port, stack)
    uploads = returns(count)
    first = time.time()
    times = upload_all(port, token, uploads)
    sinks.wait(list(times), 30)
    report("embedded (SQLite, no broker, sent before the 201: 201 -> arrival is negative)", times, sinks, first)
    floors(sinks, port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--returns", type=int, default=200)
    parser.add_argument("--paced", type=int, default=40, help="broker: then this many, one at a time")
    parser.add_argument("--only", choices=["broker", "embedded"])
    args = parser.parse_args()
    for name in ("broker", "embedded"):
        if args.only and name != args.only:
            continue
        work = Path(tempfile.mkdtemp(prefix=f"kpi-bench-e2e-{name}-"))
        stack: list[Group] = []
        pg: list[PostgresCluster] = []
        sinks = Sinks()
        sinks.smtp.start()
        sinks.teams.__enter__()
        try:
            if name == "broker":
                broker_run(work, args.returns, args.paced, sinks, stack, pg)
            else:
                embedded_run(work, args.returns, sinks, stack)
        finally:
            for g in reversed(stack):
                g.stop()
            for c in pg:
                c.stop()
            sinks.smtp.stop()
            sinks.teams.stop()
            shutil.rmtree(work, ignore_errors=True)
        print()
    print(f"target: 201 -> email p95 <= {TARGET_P95 * 1000:.0f} ms (compare with the floors above)")


if __name__ == "__main__":
    main()
