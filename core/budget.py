"""Budget-aware dispatch: a job whose store has no budget now is handed back, not slept on.

A job handler that may be deferred runs its store call inside `deferrable()`. A connector
whose calls spend a rate budget (Shopify's GraphQL points) asks `may_defer()` before its first
call: if the budget cannot pay for the call now, it raises `NotReady` with the seconds until
it can, and the job runner hands the job back to the queue, due then, with no attempt counted
and no error recorded, while the thread takes other work. Once a call has been sent
(`spend()`), the job is past the point of no return: later calls of the same job wait for
their budget as before, so a job is never stopped halfway through what it writes.

The scope also records that the job spent from a rate budget (`Scope.budgeted`): the
dispatcher prefers such stores' work while they have budget, because a full bucket that is not
spent from wastes its refill, while work without a budget waits at no loss.

Pure (no I/O): a context variable per thread of execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class NotReady(Exception):  # not a failure: the job is simply not due yet
    """The store's budget cannot pay for the job's first call for `seconds` more."""

    def __init__(self, key: str, seconds: float) -> None:
        super().__init__(f"budget of {key} has enough again in {seconds:.2f}s")
        self.key = key
        self.seconds = seconds


@dataclass
class Scope:
    """What one job did with rate budgets so far."""

    deferrable: bool = False  # inside `deferrable()` and nothing sent yet
    budgeted: bool = False  # a call of this job spent from a rate budget


_scope: ContextVar[Scope | None] = ContextVar("droptrack_budget_scope", default=None)


@contextmanager
def job_scope() -> Iterator[Scope]:
    """Around one job (the job runner): collects what the job did with budgets."""
    scope = Scope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextmanager
def deferrable() -> Iterator[None]:
    """Around a handler's store call that may be handed back before anything is sent.

    Only for a handler that has changed nothing anywhere before this point (so running it
    again from the start is the same as running it now). Outside a job scope it does nothing.
    """
    scope = _scope.get()
    if scope is None:
        yield
        return
    scope.deferrable = True
    try:
        yield
    finally:
        scope.deferrable = False


def may_defer() -> bool:
    """Whether the caller may raise `NotReady` instead of waiting for its budget."""
    scope = _scope.get()
    return scope is not None and scope.deferrable


def spend() -> None:
    """A budgeted call is about to be sent: from now on the job waits instead of deferring."""
    scope = _scope.get()
    if scope is not None:
        scope.deferrable = False
        scope.budgeted = True
