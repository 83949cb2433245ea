"""The install's signing key: KPI_ALERTS_SECRET_KEY, or a random key kept in the database."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.store.models import InstallSecret
from config import Settings


def signing_key(session: Session, settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    row = session.get(InstallSecret, "unsubscribe")
    if row is None:
        try:
            session.add(InstallSecret(name="unsubscribe", value=secrets.token_urlsafe(32)))
            session.commit()
        except IntegrityError:  # made concurrently by another process: use theirs
            session.rollback()
        row = session.get(InstallSecret, "unsubscribe")
    assert row is not None
    return row.value.encode()
