"""Errors that say how to retry: shared by connectors, the engine and the outbox."""

from __future__ import annotations


class RetryableError(Exception):
    """A temporary failure (network, timeout, 5xx, 429): try again later."""

    def __init__(self, message: str, retry_after_seconds: float | None = None, *,
                 throttled: bool = False) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        # A rate limit or budget (429, THROTTLED): the remote is up, only busy. Never counts
        # towards its circuit (integration/jobs/circuits.py).
        self.throttled = throttled
        # Which remote failed (e.g. "supplier:3"), named by the caller that knows it.
        self.remote: str | None = None


class PermanentError(Exception):
    """Invalid data or a 4xx answer: retrying cannot help."""


class CredentialsRefused(PermanentError):
    """The remote refused DropTrack's credentials for good and they cannot be renewed (client
    secret rotated, app removed): retrying cannot help, the owner must connect again."""
