"""Tables (SQLModel). History is never deleted: superseded rows are marked not current.

Lists and dicts are `JSON` columns; every instant is `UTCDateTime` (alerts/store/types.py):
aware UTC in Python on every backend, and a naive datetime is refused when bound."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from alerts.store.types import RepeatedJSON, UTCDateTime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReturnRecord(SQLModel, table=True):
    __tablename__ = "returns"
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(index=True)
    kind: str
    periods: str  # comma-separated YYYY-MM, sorted
    filename: str
    sha256: str = Field(unique=True)  # a byte-identical re-upload is a duplicate
    status: str  # accepted | restated
    rows: int
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    evaluated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The API token that uploaded it (`POST /api/returns`); None: landed by the command line.
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id")
    # Broker mode: when its evaluate task was last handed to the broker (None: not yet, or the
    # broker was down). The relay publishes those awaiting evaluation that are None or stale.
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Queries (issue 17): a doubtful return is stored but held, told to nobody, until someone
    # confirms it, a corrected file supersedes it, or KPI_ALERTS_QUERY_HOLD_HOURS pass.
    queries: list[dict] | None = Field(default=None, sa_type=JSON)  # [{row, column, message}]; None: none
    held_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: never held
    held_notified_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)  # the performance team told
    confirmed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_by: str | None = None
    confirm_note: str | None = None
    superseded_by: int | None = Field(default=None, foreign_key="returns.id")  # a corrected file
    released_unconfirmed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)  # hold hours passed


class Observation(SQLModel, table=True):
    __tablename__ = "observations"
    __table_args__ = (Index("ix_obs_current", "provider", "kind", "period", "current"),)
    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(foreign_key="returns.id", index=True)
    provider: str
    kind: str
    period: str
    measure: str
    value: float | None = None
    team: str | None = None
    service: str | None = None
    worker: str | None = None
    asye: bool | None = None
    current: bool = True


class RatingRecord(SQLModel, table=True):
    __tablename__ = "ratings"
    __table_args__ = (
        Index("ix_ratings_series", "rule_id", "subject", "current", "period"),
        Index("ix_ratings_period", "provider", "kind", "period", "current"),
    )
    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(foreign_key="returns.id", index=True)
    rule_id: str
    subject: str
    provider: str
    team: str | None = None  # team of a team or worker subject, for routing by team
    kind: str
    period: str
    value: float
    rating: str | None  # None: tracked but unrated
    thresholds: dict[str, str | float] = Field(sa_type=RepeatedJSON)  # the bands (and ceiling) used: JSON
    rule_version: str  # effective_from of the version used
    evaluated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    current: bool = True


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule_id", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str
    subject: str
    provider: str = Field(index=True)
    team: str | None = None
    state: str  # green | amber | red
    period: str  # the latest rated period
    value: float
    since_period: str  # first period of the current state's run
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertEvent(SQLModel, table=True):
    __tablename__ = "alert_events"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    return_id: int | None = Field(default=None, foreign_key="returns.id", index=True)
    rule_id: str
    subject: str
    provider: str
    team: str | None = None
    from_state: str | None
    to_state: str
    kind: str  # opened | escalated | deescalated | resolved | reminder | corrected | acknowledged | snoozed
    period: str
    value: float
    by: str | None = None  # who acknowledged or snoozed
    by_role: str | None = None  # their role then (viewer | performance | admin); None: the command line
    note: str | None = None
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- notifications (issue 3) ------------------------------------------------------------


class Subscriber(SQLModel, table=True):
    __tablename__ = "subscribers"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    email: str | None = None
    teams_url: str | None = None  # an Apprise workflows:// URL: holds a secret signature, never logged
    empty_digest: bool = True  # send a short "all steady" digest when nothing changed
    # weekly | monthly (the first digest day of each month); the server default fills existing rows
    digest_cadence: str = Field(default="weekly", sa_column_kwargs={"server_default": "weekly"})
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # One-click unsubscribe (issue 17): the address stays suppressed (a file's `apply` and
    # `subscribe` add nothing for it) until the person follows something again in the web app.
    unsubscribed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Unsubscribe links carry this; bumping it revokes every link sent so far.
    unsubscribe_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscribers.id", index=True)
    indicators: list[str] = Field(default_factory=list, sa_type=JSON)  # empty = any
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    providers: list[str] = Field(default_factory=list, sa_type=JSON)
    teams: list[str] = Field(default_factory=list, sa_type=JSON)
    # empty = all of opened, escalated, deescalated, resolved, reminder, corrected
    transitions: list[str] = Field(default_factory=list, sa_type=JSON)
    min_severity: str = "amber"  # amber | red
    delivery: str = "immediate"  # immediate | digest | both
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Followed by the subscriber themselves on the web page (issue 17): `subscriptions apply`
    # keeps it although the file does not name it. False for the file's, the CLI's and those a
    # performance user added for someone else (and for every row made before 0005).
    self_added: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Snooze(SQLModel, table=True):
    __tablename__ = "snoozes"
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(index=True)
    subject: str | None = None  # None: every subject of the rule
    until: dt.datetime = Field(sa_type=UTCDateTime)
    by: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """The outbox: one message to one subscriber on one channel, written in the same
    transaction as the alert transitions it reports. Delivered by a task."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # the delivery key, sent as X-Notification-Id
    subscriber_id: int = Field(foreign_key="subscribers.id", index=True)
    channel: str  # email | teams
    return_id: int | None = Field(default=None, foreign_key="returns.id")
    subject: str
    body_html: str
    body_text: str
    severity: str  # worst rating in the message
    events: list[int] = Field(sa_type=JSON)  # alert_event ids
    status: str = "pending"  # pending | sending | sent | failed | unknown | withdrawn (unsubscribed first)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)  # when the current send started
    last_error: str | None = None  # privacy-safe: never a URL secret
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """Recorded before each send (outcome None) and completed after: the one record of attempts."""

    __tablename__ = "delivery_attempts"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="deliveries.id", index=True)
    attempt: int
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = None  # sent | failed | unknown; None = never completed (crash)
    detail: str | None = None


class NotificationLog(SQLModel, table=True):
    """Dedup: the same change is never sent twice to the same subscriber on the same channel."""

    __tablename__ = "notification_log"
    __table_args__ = (UniqueConstraint("event_id", "subscriber_id", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="alert_events.id")
    subscriber_id: int = Field(foreign_key="subscribers.id")
    channel: str
    delivery_id: int = Field(foreign_key="deliveries.id")


# --- digests (issue 4) ----------------------------------------------------------------


class Digest(SQLModel, table=True):
    """The digest ledger: exactly one digest per subscriber per ISO week, whatever beat,
    retries or crashes do. Written with the digest's delivery row, in one transaction."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscriber_id", "week"),)
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscribers.id", index=True)
    week: str  # ISO week, e.g. 2025-W12
    status: str  # queued | skipped
    reason: str | None = None  # why skipped: "empty" (opted out of an empty one) | "not_due" (monthly, not this week)
    delivery_id: int | None = Field(default=None, foreign_key="deliveries.id")
    # green/amber/red of the subscriber's KPIs: next week's "since last week"
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InstallSecret(SQLModel, table=True):
    """A random key made on first use when KPI_ALERTS_SECRET_KEY is not set (signs unsubscribe links)."""

    __tablename__ = "install_secrets"
    name: str = Field(primary_key=True)
    value: str


# --- the HTTP API (issue 11) ------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    """A bearer token for `POST /api/returns`. Only its SHA-256 is kept (the token is 256 random
    bits, so a plain hash is enough): the token itself is shown once, when it is made. Revoked
    tokens stay, as the record of which token landed which return."""

    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    token_sha256: str = Field(unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # upload (POST /api/returns only) | read | manage (issue 18); tokens made before scopes keep
    # what they had: the server default marks them manage
    scope: str = Field(default="upload", sa_column_kwargs={"server_default": "manage"})


class User(SQLModel, table=True):
    """A person who signs in to the web app (issue 12). Roles: viewer (every leader), performance
    (also uploads, snoozes, manages anyone's subscriptions and tokens), admin (users and roles).
    A subscriber's address signs in as a viewer without being added; the first admin comes
    from `kpi-alerts users add EMAIL --role admin`."""

    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)  # lower-cased
    name: str = ""
    role: str = "viewer"
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SigninRequest(SQLModel, table=True):
    """One request for a sign-in link: single use (`used_at`), 15 minutes. Kept for unknown
    addresses too (no link sent, `nonce_sha256` None), as the count the rate limits read."""

    __tablename__ = "signin_requests"
    __table_args__ = (Index("ix_signin_requests_email", "email", "created_at"),
                      Index("ix_signin_requests_client", "client", "created_at"))
    id: int | None = Field(default=None, primary_key=True)
    email: str
    client: str
    nonce_sha256: str | None = Field(default=None, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # issue 18: the worker's sign-in mail step claims the request (sets mailed_at) before it
    # sends, so a re-delivered task sends nothing twice; `landing` is the link's `next`
    mailed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    landing: str | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries the session's random id, signed; only its SHA-256
    is stored. Ends at `expires_at` (KPI_ALERTS_SESSION_HOURS) or on sign-out (`ended_at`)."""

    __tablename__ = "web_sessions"
    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Heartbeat(SQLModel, table=True):
    """When a periodic process (beat's scheduler) last ticked: /healthz and /metrics read its age
    (issue 18: no silent stop)."""

    __tablename__ = "heartbeats"
    name: str = Field(primary_key=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
