"""Which database errors are worth retrying: the database away, not a bug or a constraint.

The edges that retry (the workers' task retries, recording a sent message's outcome) ask here,
so nothing outside alerts/store names SQLAlchemy's exceptions."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# A refused or dropped connection, a database shutting down or restarting, a locked SQLite file.
UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def unreachable(exc: BaseException) -> bool:
    return isinstance(exc, UNREACHABLE) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
