"""`droptrack tracking ...`: tracking services (17TRACK, AfterShip, DHL): quota, refused
numbers, the owner's carrier corrections, and which source tracks a store's or supplier's
parcels.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from integration.cli.context import Context, pass_context


@click.group()
def tracking() -> None:
    """Tracking services (17TRACK, AfterShip, DHL)."""


SOURCE_CHOICES = ["default", "supplier", "17track", "aftership", "dhl"]


@tracking.command("quota")
@click.argument("service", type=click.Choice(["17track", "aftership", "dhl"]),
                default="17track")
@pass_context
def tracking_quota(ctx: Context, service: str) -> None:
    """Ask the service for its quota (free), store it, and print it. DHL has no quota API:
    today's count of DropTrack's calls against the daily budget is printed instead."""
    from integration.storage.models import TrackingQuota
    from integration.sync.tracking import budget
    from integration.sync.tracking import service as services
    from integration.sync.tracking.registration import save_quota

    runtime = ctx.runtime()
    try:
        connector = services.connector(runtime, service)
        if connector.daily_calls is not None:
            with runtime.db.write() as session:
                left = budget.calls_left(session, service, connector.daily_calls,
                                         runtime.clock.now())
                row = session.get_one(TrackingQuota, service)
                click.echo(f"{service}\tremaining={left}\tused={row.used}\t"
                           f"total={row.total}\t(calls today, reset at 00:00 GMT)")
            return
        quota = connector.quota()
    except Exception as exc:  # shown to the owner, no traceback
        raise click.ClickException(str(exc)) from None
    with runtime.db.write() as session:
        save_quota(session, service, quota, runtime.clock.now(), runtime.settings)
    click.echo(f"{service}\tremaining={quota.remaining}\tused={quota.used}\t"
               f"total={quota.total}")


@tracking.command("problems")
@pass_context
def tracking_problems(ctx: Context) -> None:
    """Numbers a service refused or could not find, with the id to correct them by."""
    from integration.storage.models import TrackedNumber

    runtime = ctx.runtime()
    with runtime.db.read() as session:
        rows = list(session.scalars(select(TrackedNumber).where(
            TrackedNumber.problem.is_not(None)).order_by(TrackedNumber.id)))
        if not rows:
            click.echo("no problems")
        for row in rows:
            click.echo(f"{row.id}\t{row.service}\t{row.number}\t{row.state}\t{row.problem}")


@tracking.command("correct-carrier")
@click.argument("tracked_id", type=int)
@click.argument("carrier_key")
@pass_context
def tracking_correct_carrier(ctx: Context, tracked_id: int, carrier_key: str) -> None:
    """Name the right carrier (17TRACK's carrier key, e.g. 3011 for China Post) for a number."""
    from integration.sync.tracking.polling import correct_carrier

    if not carrier_key.isdigit():
        raise click.BadParameter("a 17TRACK carrier key is a number", param_hint="CARRIER_KEY")
    try:
        what = correct_carrier(ctx.runtime(), tracked_id, carrier_key)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("registered again with that carrier at the next sweep" if what == "register"
               else "carrier change queued")


@tracking.command("source")
@click.argument("kind", type=click.Choice(["store", "supplier"]))
@click.argument("holder_id", type=int)
@click.argument("source", type=click.Choice(SOURCE_CHOICES))
@pass_context
def tracking_source(ctx: Context, kind: str, holder_id: int, source: str) -> None:
    """Which source tracks this store's or supplier's parcels from now on ("default": the
    configured service for spreadsheet suppliers, the supplier's own events otherwise)."""
    from integration.storage.models import Store, Supplier
    from integration.sync.tracking.service import check_source, set_source

    runtime = ctx.runtime()
    chosen = None if source == "default" else source
    try:
        check_source(runtime.settings, chosen)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with runtime.db.write() as session:
        holder: Store | Supplier | None = (
            session.get(Store, holder_id) if kind == "store" else session.get(Supplier, holder_id))
        if holder is None:
            raise click.ClickException(f"{kind} {holder_id} does not exist")
        set_source(session, holder, chosen)
    click.echo(f"{kind} {holder_id}: parcels tracked by {source}")


@tracking.command("sources")
@pass_context
def tracking_sources(ctx: Context) -> None:
    """Every store's and supplier's tracking source: chosen, and what tracks it now."""
    from integration.sync.tracking.service import source_choices

    runtime = ctx.runtime()
    with runtime.db.read() as session:
        for choice in source_choices(session, runtime.settings):
            click.echo(f"{choice.kind}\t{choice.holder_id}\t{choice.name}\t"
                       f"chosen={choice.chosen}\tnow={choice.decided}\t({choice.why})")


COMMANDS: list[click.Command] = [tracking]
