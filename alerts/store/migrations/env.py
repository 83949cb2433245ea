"""Alembic's environment, run by alerts/store/schema.py (no alembic.ini: the configuration is
built in code). It always runs on a connection schema.py hands over, inside the transaction
(and under the lock) schema.py holds; batch mode so that SQLite can take future ALTERs."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from alerts.store import models  # noqa: F401  (registers the tables)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through alerts.store.schema (kpi-alerts db upgrade), not the alembic command")

context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=True, compare_type=True, compare_server_default=True)
with context.begin_transaction():
    context.run_migrations()
