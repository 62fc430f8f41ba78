"""shipments hold the lines of their parcel when a supplier split the order

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments') as batch:
        batch.add_column(sa.Column('lines', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shipments') as batch:
        batch.drop_column('lines')
