"""`droptrack jobs ...`: inspect and re-run outbox jobs.
"""

from __future__ import annotations

import click

from integration.cli.context import Context, pass_context
from integration.jobs import outbox


@click.group()
def jobs() -> None:
    """Outbox jobs."""


@jobs.command("list")
@click.option("--state", "states", multiple=True,
              type=click.Choice([outbox.PENDING, outbox.RUNNING, outbox.DONE, outbox.DEAD]))
@click.option("--limit", default=50, show_default=True)
@pass_context
def jobs_list(ctx: Context, states: tuple[str, ...], limit: int) -> None:
    """Show recent jobs, newest first."""
    runtime = ctx.runtime()
    with runtime.db.read() as session:
        rows = outbox.list_jobs(session, states, limit)
        if not rows:
            click.echo("no jobs")
        for row in rows:
            error = f"\t{row.last_error}" if row.last_error else ""
            click.echo(f"{row.id}\t{row.state}\t{row.kind}\tattempts={row.attempts}"
                       f"\tnext={row.next_run_at.isoformat()}{error}")


@jobs.command("replay")
@click.argument("job_id", type=int)
@pass_context
def jobs_replay(ctx: Context, job_id: int) -> None:
    """Queue a dead or finished job again with a fresh attempt budget."""
    runtime = ctx.runtime()
    with runtime.db.write() as session:
        replayed = outbox.replay(session, job_id, runtime.clock.now())
    if not replayed:
        raise click.ClickException(f"job {job_id} does not exist or is running right now")
    click.echo(f"job {job_id} queued again")


COMMANDS: list[click.Command] = [jobs]
