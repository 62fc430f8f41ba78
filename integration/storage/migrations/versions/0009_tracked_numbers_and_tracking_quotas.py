"""tracked numbers (a parcel's number at a tracking service) and tracking quotas

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from integration.storage.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'tracked_numbers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service', sa.String(length=20), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('supplier_order_id', sa.Integer(), nullable=False),
        sa.Column('parcel_ref', sa.String(length=255), nullable=False),
        sa.Column('number', sa.String(length=100), nullable=False),
        sa.Column('carrier', sa.String(length=40), nullable=True),
        sa.Column('service_carrier', sa.String(length=20), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('problem_code', sa.String(length=40), nullable=True),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.Column('registered_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_update_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_poll_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('stopped_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_tracked_numbers_shipment_id_shipments'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracked_numbers')),
        sa.UniqueConstraint('service', 'shipment_id',
                            name=op.f('uq_tracked_numbers_service_shipment_id')),
    )
    op.create_index('ix_tracked_numbers_number', 'tracked_numbers', ['service', 'number'])
    op.create_index('ix_tracked_numbers_due', 'tracked_numbers', ['state', 'next_poll_at'])
    op.create_table(
        'tracking_quotas',
        sa.Column('service', sa.String(length=20), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('used', sa.Integer(), nullable=False),
        sa.Column('remaining', sa.Integer(), nullable=False),
        sa.Column('exhausted', sa.Boolean(), nullable=False),
        sa.Column('checked_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('service', name=op.f('pk_tracking_quotas')),
    )


def downgrade() -> None:
    op.drop_table('tracking_quotas')
    op.drop_index('ix_tracked_numbers_due', table_name='tracked_numbers')
    op.drop_index('ix_tracked_numbers_number', table_name='tracked_numbers')
    op.drop_table('tracked_numbers')
