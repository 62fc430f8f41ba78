"""Insert-once statements run straight on the database driver, for the webhook intake.

The intake's whole job is one short write transaction per delivery, and under load the
ORM session and Core execution machinery cost more CPU than the database itself (about
140 us of 230 us per delivery on SQLite). Here SQLAlchemy still writes the SQL and converts
the values (the columns' own bind processors, so rows read back through the ORM exactly as
if the ORM had written them); only the execution goes to the driver directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from integration.storage.models import Base


class DriverInsertOnce:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING id` for a fixed set of columns."""

    def __init__(self, dialect: Dialect, model: type[Base], columns: Sequence[str],
                 unique: Sequence[str]) -> None:
        table: Table = model.__table__  # type: ignore[assignment]
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        statement = insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(
            table.c.id)
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        self.sql = compiled.string
        self.columns = tuple(columns)
        self._column_set = frozenset(columns)
        # Positional drivers (sqlite3: qmark) take a sequence in the compiled order.
        self.positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None)
        processors = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in columns}
        self.processors: dict[str, Callable[[Any], Any]] = {
            name: processor for name, processor in processors.items() if processor is not None}
        # Columns of one type share a conversion: a row that puts the same value in several of
        # them (a job's `now` in created_at, updated_at, next_run_at) converts it once.
        kinds: dict[Any, str] = {}
        self._kind = {name: kinds.setdefault(_type_key(table.c[name].type), name)
                      for name in self.processors}

    def parameters(self, values: dict[str, Any]) -> dict[str, Any] | list[Any]:
        if values.keys() != self._column_set:
            raise ValueError(f"expected columns {sorted(self.columns)}, got {sorted(values)}")
        processors, kinds = self.processors, self._kind
        converted: dict[str, Any] = {}
        done: dict[tuple[str, int], Any] = {}
        for name, value in values.items():
            processor = processors.get(name)
            if processor is None:
                converted[name] = value
                continue
            key = (kinds[name], id(value))  # `values` holds every value alive meanwhile
            if key not in done:
                done[key] = processor(value)
            converted[name] = done[key]
        if self.positions is None:
            return converted
        return [converted[name] for name in self.positions]

    def __call__(self, cursor: Any, values: dict[str, Any]) -> int | None:
        """The new row's id, or None when a row with the same unique columns exists."""
        cursor.execute(self.sql, self.parameters(values))
        row = cursor.fetchone()
        return None if row is None else int(row[0])


def _type_key(column_type: Any) -> Any:
    """Equal for column types whose bind conversion is the same (class and arguments)."""
    return (type(column_type), repr(column_type))


def integrity_error(engine: Engine) -> type[Exception]:
    """The driver's IntegrityError class (PEP 249), e.g. for a vanished foreign key."""
    error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
    return error
