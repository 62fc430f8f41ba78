"""outbox serial index only for jobs that have a serial key; alerts by order

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:10:00

Most jobs (every webhook's processing job) have no serial key: a partial index leaves them
out, so queueing one writes one index page less. Alerts are looked up by order each time an
order's status changes (`alerts.resolve_alerts`); without an index that scans every alert.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

HAS_SERIAL_KEY = sa.text("serial_key IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_serial')
    op.create_index('ix_outbox_serial', 'outbox', ['serial_key', 'state'], unique=False,
                    sqlite_where=HAS_SERIAL_KEY, postgresql_where=HAS_SERIAL_KEY)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_order', ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_order')
    op.drop_index('ix_outbox_serial', table_name='outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_serial', ['serial_key', 'state'], unique=False)
