"""circuits per remote; outbox jobs remember the remote they failed to reach

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import integration.storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('circuits',
    sa.Column('remote', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('opened_times', sa.Integer(), nullable=False),
    sa.Column('opened_at', integration.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('open_until', integration.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('updated_at', integration.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('remote', name=op.f('pk_circuits'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remote', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('remote')
    op.drop_table('circuits')
