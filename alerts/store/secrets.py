"""The install's signing key: KPI_ALERTS_SECRET_KEY, or a random key kept in the database."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.store.models import InstallSecret
from config import Settings

_NAME = "unsubscribe"
_GET = select(InstallSecret.value).where(InstallSecret.name == bindparam("name"))
_ADD = insert(InstallSecret.__table__)


def signing_key(session: Session, settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    value = session.execute(_GET, {"name": _NAME}).scalar_one_or_none()
    if value is None:
        try:
            session.execute(_ADD, {"name": _NAME, "value": secrets.token_urlsafe(32)})
            session.commit()
        except IntegrityError:  # made concurrently by another process: use theirs
            session.rollback()
        value = session.execute(_GET, {"name": _NAME}).scalar_one()
    return value.encode()
