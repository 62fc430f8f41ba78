"""orders remember the status the store showed last (WooCommerce: read before a batch only
what may have changed since)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from integration.storage.models import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('store_status', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('store_status_at', UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('store_status_at')
        batch.drop_column('store_status')
