"""API tokens (kpi-alerts tokens), and the token that landed each return (NULL: the command line,
the inbox, or a return from before)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 04:00:42.409539
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import alerts.store.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', alerts.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', alerts.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', alerts.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_returns_token_id_api_tokens", 'api_tokens', ['token_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_constraint("fk_returns_token_id_api_tokens", type_="foreignkey")
        batch_op.drop_column('token_id')

    op.drop_table('api_tokens')
