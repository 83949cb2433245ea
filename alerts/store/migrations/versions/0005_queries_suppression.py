"""issue 17: held returns (queries, confirmation, supersession, release after the hold hours),
the role of who acknowledged, one-click unsubscribe suppression and revocable links, and
subscriptions a person followed themselves on the web page

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import alerts.store.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_WHEN = alerts.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queries', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('held_at', _WHEN, nullable=True))
        batch_op.add_column(sa.Column('held_notified_at', _WHEN, nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', _WHEN, nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('confirm_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('superseded_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('released_unconfirmed_at', _WHEN, nullable=True))
        batch_op.create_foreign_key('fk_returns_superseded_by', 'returns', ['superseded_by'], ['id'])
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('by_role', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed_at', _WHEN, nullable=True))
        batch_op.add_column(sa.Column('unsubscribe_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('self_added', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('self_added')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_version')
        batch_op.drop_column('unsubscribed_at')
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_column('by_role')
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_constraint('fk_returns_superseded_by', type_='foreignkey')
        for name in ('released_unconfirmed_at', 'superseded_by', 'confirm_note', 'confirmed_by', 'confirmed_at',
                     'held_notified_at', 'held_at', 'queries'):
            batch_op.drop_column(name)
