"""A circuit per remote (a supplier, a store), shared by every worker through the database.

A job that cannot reach its remote raises a `RetryableError` naming it (`error.remote`, set
where DropTrack calls the remote: `supplier_connection`, the store write-back); rate limits
(`error.throttled`) never count, the remote answered. Failures in a row are counted per
remote; at `dispatcher.circuit_failures` the circuit opens, and while it is open:

* a job that has used up its attempts against that remote is not dead-lettered: it waits,
  retrying at most `circuit_max_open_seconds` apart (its own back-off below that), so an
  outage longer than the retry budget strands nothing;
* the owner gets one alert per outage.

The first success against the remote closes the circuit; the waiting jobs then go through
at their next retry, by themselves.
"""

from __future__ import annotations

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
    """The remote a failure counts against: none for a rate limit (the remote answered)."""
    if not isinstance(error, RetryableError) or error.throttled:
        return None
    return error.remote or None


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
    if circuit.failures < settings.circuit_failures:
        return None
    newly = circuit.opened_at is None
    if newly:
        circuit.opened_at = now
        circuit.opened_times += 1
    circuit.open_until = now + timedelta(seconds=settings.circuit_max_open_seconds)
    return Opened(circuit.open_until, newly=newly)


def record_success(session: Session, remote: str) -> None:
    session.execute(update(Circuit).where(Circuit.remote == remote).values(
        failures=0, opened_times=0, opened_at=None, open_until=None))
