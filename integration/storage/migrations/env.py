"""Alembic environment: runs against the engine DropTrack hands it (see storage/migrate.py)."""

from __future__ import annotations

from alembic import context

from integration.storage.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
