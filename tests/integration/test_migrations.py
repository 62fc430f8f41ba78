"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from integration.kernel.runtime import Runtime
from integration.storage import migrate
from integration.storage.models import Base


def test_models_and_migrations_agree(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.is_current(runtime.db)


def test_upgrade_is_idempotent(runtime: Runtime) -> None:
    migrate.upgrade(runtime.db)
    assert migrate.current_revision(runtime.db) == migrate.head_revision(runtime.db)
