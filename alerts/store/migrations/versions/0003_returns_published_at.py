"""returns.published_at: when a return's evaluate task was last handed to the broker (the relay
publishes those never published, or published long ago and still not evaluated)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:04:58.636701
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alerts.store.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', alerts.store.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_column('published_at')

