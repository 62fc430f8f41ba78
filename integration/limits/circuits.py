"""A circuit per remote (a supplier, a store), shared by every worker through the database.

A job that cannot reach its remote raises a `RetryableError` naming it (`error.remote`, set
where DropTrack calls the remote: `supplier_connection`, the store write-back). Failures in a
row are counted per remote; at `dispatcher.circuit_failures` the circuit opens for
`circuit_open_seconds`, doubling each time it opens again, up to `circuit_max_open_seconds`.
While it is open:

* the failing job and every job that failed against the same remote wait until it may close,
  without spending an attempt (an outage longer than the retry budget strands nothing);
* no worker claims those jobs (`outbox._due` leaves out jobs whose remote is open);
* the owner gets one alert per outage.

When it may close, the waiting jobs come due spread over a few seconds: the first is the
probe. Its success closes the circuit and the rest follow; its failure opens it again, and
the others, not yet claimed, wait on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.errors import RetryableError
from integration.base.config import DispatcherSettings
from integration.storage.models import Circuit

REMOTE_DOWN_ALERT = "remote_down"


@dataclass(frozen=True)
class Opened:
    """The remote's circuit is open until `until`; `newly` on the failure that opened it."""

    until: datetime
    newly: bool


def remote_of(error: BaseException) -> str | None:
    return error.remote if isinstance(error, RetryableError) and error.remote else None


def tag(error: RetryableError, remote: str) -> RetryableError:
    """Name the remote that failed on the error (the innermost name wins)."""
    if error.remote is None:
        error.remote = remote
    return error


def record_failure(session: Session, remote: str, now: datetime, error: str,
                   settings: DispatcherSettings) -> Opened | None:
    """Count one more failure in a row; the circuit when it is (or now becomes) open."""
    circuit = session.get(Circuit, remote, with_for_update=True)
    if circuit is None:
        circuit = Circuit(remote=remote, failures=0, opened_times=0, last_error="",
                          updated_at=now)
        session.add(circuit)
    circuit.failures += 1
    circuit.last_error = error[:500]
    circuit.updated_at = now
    if circuit.open_until is not None and circuit.open_until > now:
        return Opened(circuit.open_until, newly=False)
    if circuit.failures < settings.circuit_failures:
        return None
    seconds = min(settings.circuit_max_open_seconds,
                  settings.circuit_open_seconds * 2 ** circuit.opened_times)
    newly = circuit.opened_at is None
    circuit.opened_times += 1
    circuit.opened_at = circuit.opened_at or now
    circuit.open_until = now + timedelta(seconds=seconds)
    return Opened(circuit.open_until, newly=newly)


def wait_until(opened: Opened) -> datetime:
    """When a paused job comes due again: spread over a few seconds after the circuit may
    close, so that one job probes first."""
    return opened.until + timedelta(seconds=random.uniform(0, 5))


def record_success(session: Session, remote: str) -> None:
    session.execute(update(Circuit).where(Circuit.remote == remote).values(
        failures=0, opened_times=0, opened_at=None, open_until=None))
