"""Tables (SQLModel). History is never deleted: superseded rows are marked not current."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


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
    received_at: dt.datetime = Field(default_factory=utcnow)
    evaluated_at: dt.datetime | None = None


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
    kind: str
    period: str
    value: float
    rating: str | None  # None: tracked but unrated
    thresholds: str  # JSON: the bands (and ceiling) used
    rule_version: str  # effective_from of the version used
    evaluated_at: dt.datetime = Field(default_factory=utcnow)
    current: bool = True


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule_id", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str
    subject: str
    provider: str = Field(index=True)
    state: str  # green | amber | red
    period: str  # the latest rated period
    value: float
    since_period: str  # first period of the current state's run
    updated_at: dt.datetime = Field(default_factory=utcnow)


class AlertEvent(SQLModel, table=True):
    __tablename__ = "alert_events"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    return_id: int | None = Field(default=None, foreign_key="returns.id", index=True)
    rule_id: str
    subject: str
    provider: str
    from_state: str | None
    to_state: str
    kind: str  # opened | escalated | deescalated | resolved
    period: str
    value: float
    at: dt.datetime = Field(default_factory=utcnow)
