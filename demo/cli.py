"""`droptrack demo`: the whole story on one machine.

DropTrack (SQLite, one process) with a sandbox Shopify store, a sandbox WooCommerce store, a
REST supplier and a spreadsheet supplier, on fast simulated time. See demo/.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from demo.run import DemoError, DemoOptions, run_demo
from demo.workspace import DEFAULT_DIR


@click.command("demo")
@click.option("--port", default=None, type=click.IntRange(0, 65535),
              help="DropTrack's port (default: 8080, or any free port when 8080 is taken; "
                   "0: any free port); the sandboxes and its https address take the next eight "
                   "when free")
@click.option("--speed", default=7200.0, show_default=True, type=click.FloatRange(min=1.0),
              help="simulated seconds per real second (7200: a real second is two hours)")
@click.option("--orders-per-minute", default=6.0, show_default=True,
              type=click.FloatRange(min=0.0), help="new customer orders per real minute")
@click.option("--fresh/--resume", default=True, show_default=True,
              help="start over (wipes ./var/demo) or continue with its database")
@click.option("--duration", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="stop after this many real seconds (0: run until Ctrl-C)")
def group(port: int | None, speed: float, orders_per_minute: float, fresh: bool,
          duration: float) -> None:
    """Watch DropTrack work: sandbox stores, suppliers and customers on fast simulated time."""
    stop = threading.Event()
    previous = {}

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, _stop)
    options = DemoOptions(port=port, speed=speed, orders_per_minute=orders_per_minute,
                          fresh=fresh, duration=duration, workspace=Path(DEFAULT_DIR))
    try:
        run_demo(options, lambda line: click.echo(line), stop)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


COMMANDS: list[click.Command] = [group]
