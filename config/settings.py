"""The one Settings object. Nothing else in the project reads the environment."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rules.loader import SHIPPED_PACKS

# Celery's soft time limit per task (workers/app.py): one send must end well inside it.
TASK_SOFT_TIME_LIMIT = 240
# Redis redelivers an unacknowledged message after this many seconds (workers/app.py sets it
# explicitly). A countdown or retry delay longer than it makes Redis re-run the task "again and
# again in a loop", so every delay the code asks the broker for stays at most a quarter of it
# (tests/test_broker_config.py); longer waits live in the database (deliveries.next_attempt_at).
BROKER_VISIBILITY_TIMEOUT = 3600
MAX_BROKER_COUNTDOWN = BROKER_VISIBILITY_TIMEOUT / 4
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KPI_ALERTS_", env_file=".env", extra="ignore")

    # SQLite file in the working directory unless told otherwise (PostgreSQL in production).
    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'kpi-alerts.db'}")
    # Empty: Celery tasks run in-process (eager). Set (redis://...) for workers + beat.
    broker_url: str = ""
    rules_dir: Path = SHIPPED_PACKS
    timezone: str = "Europe/London"

    # Notifications. An Apprise mailto:// or mailtos:// URL without recipients (it may hold
    # the SMTP password: never logged), and the From address.
    email_url: str = ""
    email_from: str = "kpi-alerts@localhost"
    # A folder: every email is written there as an .eml file instead of being sent (the local
    # `kpi-alerts demo --serve`); a page lists them (/mail, admin). Never used unless set.
    mail_folder: str = ""
    base_url: str = ""  # links in messages and sign-in emails, when set (none from a request's host)
    # Host names the API answers to, comma-separated ("kpi.example.org,localhost"); a request
    # with another Host header gets 400. Empty: any Host (then `serve` needs base_url whenever
    # sign-in links can be emailed).
    allowed_hosts: str = ""
    send_timeout: float = 30.0  # seconds per Apprise call; a timeout is an unknown outcome
    delivery_max_attempts: int = 8
    delivery_backoff_base: float = 60.0  # seconds; doubles each attempt (equal jitter): 8 attempts over ~1 h
    delivery_backoff_max: float = 900.0  # cap per wait: at most a quarter of the broker visibility timeout
    # Signs unsubscribe links, sign-in links and web sessions; empty: a random key is made and
    # kept in the database.
    secret_key: str = ""
    # Failed bearer tokens and sign-in links per client address and minute before it is answered
    # 429 (Retry-After); counted in Redis when the broker is Redis, else in each API process.
    auth_failures_per_minute: int = Field(10, ge=1)
    # The web app: a signed-in session ends after this many hours (or on sign-out).
    session_hours: float = Field(12.0, gt=0, le=24 * 30, allow_inf_nan=False)
    digest_weekday: int = Field(0, ge=0, le=6)  # Monday
    digest_time: dt.time = dt.time(7, 30)  # local time in `timezone`; KPI_ALERTS_DIGEST_TIME=07:30
    digest_chunk_size: int = Field(500, ge=1)  # subscribers per digest task
    digest_max_rows: int = Field(25, ge=0)  # indicator rows, and alert events, in a digest (worst first); 0 = all
    reminder_weekday: int = Field(0, ge=0, le=6)  # Monday: the one day a week reminders go out (local time)
    # Limits on one return, checked before it is parsed: a bigger file, or more data rows, is
    # rejected whole with a message naming the limit.
    max_return_mb: float = Field(20.0, gt=0, allow_inf_nan=False)
    max_rows: int = Field(200_000, ge=1)
    # Columns a sheet may reach (a return has at most 7): an XLSX reaching further is refused
    # before it is read; its members may unpack to at most 20 x max_return_mb.
    max_columns: int = Field(50, ge=1, le=16_384)
    # Largest upload `POST /api/returns` takes (the form's file): a bigger body is refused with
    # 413 by its Content-Length, or as soon as that much has arrived, never read whole.
    max_upload_mb: float = Field(20.0, gt=0, allow_inf_nan=False)
    # The inbox folder (a shared drive or SFTP drop): unset, no inbox. Beat scans it every
    # inbox_scan_seconds; a file is taken once two looks inbox_settle_seconds apart agree.
    inbox_dir: Path | None = None
    inbox_scan_seconds: float = Field(30.0, gt=0, allow_inf_nan=False)
    inbox_settle_seconds: float = Field(5.0, ge=0, le=3600, allow_inf_nan=False)
    # Broker mode: the relay (a beat task, and the start of every worker) publishes every return
    # still awaiting evaluation, so a Redis outage at landing delays work and loses none. It runs
    # every `relay_seconds`, and re-publishes a return published `relay_stale_seconds` ago that
    # no worker has finished (a worker killed whole); keep that above the task time limit (300 s).
    relay_seconds: float = Field(5.0, gt=0, allow_inf_nan=False)
    relay_stale_seconds: float = Field(600.0, gt=0, allow_inf_nan=False)
    # Broker mode: the longest beat sleeps between ticks (its RedBeat lock lasts five of them).
    # Each tick records a heartbeat; /healthz answers 503 naming the scheduler when the last is
    # older than two intervals.
    beat_interval_seconds: float = Field(5.0, ge=0.5, le=300, allow_inf_nan=False)
    # A return with queries (a value far outside its history, last month's figures relabelled) is
    # held until confirmed; unconfirmed after this many hours it is released, and its alerts go
    # out marked "not confirmed by the sender".
    query_hold_hours: float = Field(48.0, gt=0, allow_inf_nan=False)
    # Surfaces (issue 18). /docs and /openapi.json: "public", "signed_in" (performance role
    # or above) or "off".
    api_docs: Literal["public", "signed_in", "off"] = "signed_in"
    # /metrics: on the app's port only to clients in metrics_allow (CIDRs, comma-separated;
    # loopback by default); with metrics_port set, on that port alone (bound to metrics_host) and
    # not on the app's port at all.
    metrics_allow: str = "127.0.0.0/8,::1"
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # `kpi-alerts serve`: a connection whose request head has not fully arrived header_timeout
    # seconds after the connection (or the previous response), or whose body has not arrived
    # body_timeout seconds after its head, is closed: slow clients cannot hold the server.
    header_timeout: float = Field(10.0, gt=0, le=3600, allow_inf_nan=False)
    body_timeout: float = Field(60.0, gt=0, le=3600, allow_inf_nan=False)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as Europe/London)") from None
        return v

    @field_validator("inbox_dir", mode="before")
    @classmethod
    def _blank_is_no_inbox(cls, v: object) -> object:
        """KPI_ALERTS_INBOX_DIR= (empty) means no inbox, never the working directory."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("send_timeout")
    @classmethod
    def _usable_timeout(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 < v < TASK_SOFT_TIME_LIMIT):
            raise ValueError(f"KPI_ALERTS_SEND_TIMEOUT must be a number of seconds above 0 and below the task "
                             f"time limit ({TASK_SOFT_TIME_LIMIT} s), not {v}")
        return v

    @field_validator("delivery_backoff_max")
    @classmethod
    def _below_visibility_timeout(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 <= v <= MAX_BROKER_COUNTDOWN):
            raise ValueError(f"KPI_ALERTS_DELIVERY_BACKOFF_MAX must be a number of seconds from 0 to "
                             f"{MAX_BROKER_COUNTDOWN:g} (a quarter of the broker's visibility timeout), not {v}")
        return v

    @field_validator("digest_time", mode="before")
    @classmethod
    def _clock_time(cls, v: object) -> object:
        """HH:MM on the 24-hour clock ('07:30', '7:30'); anything else is refused by name."""
        if isinstance(v, dt.time):
            return v
        match = _HH_MM.fullmatch(str(v).strip())
        if not match:
            raise ValueError(f"KPI_ALERTS_DIGEST_TIME must be a time of day as HH:MM (24-hour), such as 07:30; "
                             f"got {v!r}")
        return dt.time(int(match[1]), int(match[2]))

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, v: str) -> str:
        allowed_networks(v)  # refused at start-up, by name, rather than at the first scrape
        return v

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_is_no_port(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def eager(self) -> bool:
        return not self.broker_url

    @property
    def trusted_hosts(self) -> list[str]:
        """KPI_ALERTS_ALLOWED_HOSTS as a list (empty: not set)."""
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def host_problem(self) -> str | None:
        """Why `serve` must not start: sign-in links can be emailed (an email URL is set) but
        nothing fixes the site's address, so a link could only come from a request's Host
        header (the sender's to choose). None when it may start."""
        if self.email_url and not self.base_url.strip() and not self.trusted_hosts:
            return ("sign-in links are emailed (KPI_ALERTS_EMAIL_URL is set) but KPI_ALERTS_BASE_URL is not: set it "
                    "to the site's public address (e.g. https://kpi.example.org), or set KPI_ALERTS_ALLOWED_HOSTS "
                    "to the host names the site answers to")
        return None

    @property
    def in_flight_seconds(self) -> float:
        """How long a landed return handed on for evaluation counts as in flight, so a duplicate
        waits for it rather than evaluating it: with a broker, RELAY_STALE_SECONDS (a worker may
        have it); embedded, 0: only an ingest in this process or another evaluates it, and the
        evaluation's claim (a row lock, SQLite's one writer) serialises those, so one left
        unevaluated is one whose process was killed: evaluated at once."""
        return 0.0 if self.eager else self.relay_stale_seconds


def allowed_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """KPI_ALERTS_METRICS_ALLOW as networks ('127.0.0.0/8,::1'); empty: nobody."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"KPI_ALERTS_METRICS_ALLOW must be addresses or networks (CIDR), comma-separated: {exc}") \
            from None


_override: Settings | None = None


@lru_cache(maxsize=1)
def _from_environment() -> Settings:
    return Settings()


def get_settings() -> Settings:
    return _override or _from_environment()


def use_settings(settings: Settings | None) -> None:
    """Run with explicit settings (the demo's temporary database, a test's services);
    None goes back to the environment."""
    global _override
    _override = settings
    _from_environment.cache_clear()
