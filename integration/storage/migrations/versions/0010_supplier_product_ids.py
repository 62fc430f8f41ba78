"""sku mappings hold the supplier's product/variant ids and the owner's price limit

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('supplier_product_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('supplier_variant_id', sa.String(length=255),
                                   nullable=True))
        batch.add_column(sa.Column('max_unit_price', sa.Numeric(precision=12, scale=2),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('max_unit_price')
        batch.drop_column('supplier_variant_id')
        batch.drop_column('supplier_product_id')
