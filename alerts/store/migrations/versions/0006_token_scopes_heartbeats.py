"""issue 18: API token scopes (tokens made before keep what they had: manage), and heartbeats
(when beat's scheduler last ticked), and signin_requests.mailed_at / landing (the sign-in
email is sent by the worker's signin_mail step, claimed once)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import alerts.store.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), server_default='manage',
                                      nullable=False))
    op.create_table('heartbeats',
                    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('at', alerts.store.types.UTCDateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('name'))
    with op.batch_alter_table('signin_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mailed_at', alerts.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('landing', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signin_requests', schema=None) as batch_op:
        batch_op.drop_column('landing')
        batch_op.drop_column('mailed_at')
    op.drop_table('heartbeats')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scope')
