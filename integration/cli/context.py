"""What every `droptrack` command shares: the config file it was given and, built on first use,
the runtime (settings, database, clock, secrets).
"""

from __future__ import annotations

from typing import Any

import click

from integration.base.config import (
    ConfigError,
    Settings,
    load_settings,
)
from integration.kernel import startup
from integration.kernel.runtime import Runtime, build_runtime
from integration.storage import migrate


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._runtime: Runtime | None = None

    def settings(self, **overrides: dict[str, Any]) -> Settings:
        try:
            return load_settings(self.config_path, overrides=overrides or None)
        except ConfigError as exc:
            raise click.ClickException(f"invalid configuration: {exc}") from None

    def runtime(self, require_schema: bool = True) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(self.settings())
        if require_schema and not migrate.is_current(self._runtime.db):
            raise click.ClickException(
                "the database schema is not current: run `droptrack db upgrade` first"
            )
        return self._runtime

    def checked_runtime(self, require_schema: bool = True) -> Runtime:
        """The runtime of a long-running command, after the start-up checks: a database
        that does not open or keys that do not open the stored secrets stop it in one line."""
        runtime = self.runtime(require_schema=False)
        try:
            startup.check_database(runtime)
            if require_schema:
                self.runtime(require_schema=True)
            startup.warn_about_settings(runtime, lambda line: click.echo(line, err=True))
            startup.check_encryption_keys(runtime)
        except startup.StartupError as exc:
            raise click.ClickException(str(exc)) from None
        return runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


pass_context = click.make_pass_decorator(Context)
