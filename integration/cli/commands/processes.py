"""The long-running processes: `droptrack serve` (embedded: web, dispatcher and scheduler in one
process), `droptrack scheduler` and `droptrack worker` (scaled out).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import click

from integration.base.config import resolve_config_path
from integration.cli.context import Context, pass_context
from integration.kernel import startup
from integration.storage import migrate


@click.command()
@click.option("--host", help="address to listen on (default: server.host)")
@click.option("--port", type=click.IntRange(0, 65535),
              help="port to listen on (default: server.port; 0 picks a free one)")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the web app, the outbox dispatcher and the scheduler in one process."""
    from integration.jobs.dispatcher import Dispatcher
    from integration.scheduling.scheduler import build_scheduler
    from integration.web.app import create_app
    from integration.web.server import build_server

    runtime = ctx.runtime(require_schema=False)
    try:
        startup.check_database(runtime)
    except startup.StartupError as exc:
        raise click.ClickException(str(exc)) from None
    migrate.upgrade(runtime.db)
    runtime = ctx.checked_runtime()
    settings = runtime.settings
    app = create_app(runtime=runtime)
    dispatcher = Dispatcher(runtime) if settings.dispatcher.enabled else None
    scheduler = build_scheduler(runtime) if settings.scheduler.enabled else None

    def _terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    listen_host = host or settings.server.host
    listen_port = settings.server.port if port is None else port
    server = build_server(app, settings, listen_host, listen_port)  # binds before work starts
    bound_host, bound_port = server.addresses[0]  # the real port when 0 was asked for
    if dispatcher is not None:
        dispatcher.start()
    if scheduler is not None:
        scheduler.start()
    click.echo(f"DropTrack listening on http://{bound_host}:{bound_port}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping DropTrack")
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if dispatcher is not None:
            dispatcher.stop()


@click.command()
@pass_context
def scheduler(ctx: Context) -> None:
    """Run the scaled-out scheduler: timed sweeps, and due jobs onto the queue (one active)."""
    import threading

    from integration.scheduling import process as scheduler_process

    runtime = ctx.checked_runtime()
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("scheduler started (waits as a standby while another one is active)")
    scheduler_process.run(runtime, stop)
    click.echo("scheduler stopped")


@click.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", type=int, help="threads per process (default: workers.threads)")
@pass_context
def worker(ctx: Context, processes: int, threads: int | None) -> None:
    """Run a Dramatiq worker for outbox jobs (scaled-out mode)."""
    from integration.jobs.workers import QUEUE

    settings = ctx.checked_runtime().settings
    ctx.close()  # the workers open their own
    env = {**os.environ, "DROPTRACK_WORKER_PROCESS": "1"}
    config = resolve_config_path(ctx.config_path)
    if config is not None:
        env["DROPTRACK_CONFIG"] = str(config.resolve())
    args = [sys.executable, "-m", "dramatiq", "integration.jobs.workers", "--queues", QUEUE,
            "--processes", str(processes), "--threads", str(threads or settings.workers.threads)]
    os.execve(sys.executable, args, env)  # noqa: S606 - replaces this process by design


COMMANDS: list[click.Command] = [serve, scheduler, worker]
