"""Fault injection: the failures a real supplier API produces, on demand and countable.

A rule names a kind of fault, the endpoint it hits (or every endpoint) and how many requests it
spoils (or all of them until cleared). The first matching rule with uses left fires.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FaultInjector", "FaultKind", "FaultRule"]


class FaultKind(StrEnum):
    ERROR = "error"
    """Answer ``status`` (default 500) at once; nothing happens."""
    TIMEOUT = "timeout"
    """Hold the request ``seconds`` (beyond the client's timeout), then 504; nothing happens."""
    LATENCY = "latency"
    """Hold the request ``seconds``, then handle it normally."""
    TIMEOUT_AFTER_CREATE = "timeout_after_create"
    """Handle the request (the order IS created), then hold the answer ``seconds``."""
    ERROR_AFTER_CREATE = "error_after_create"
    """Handle the request (the order IS created), then answer ``status`` instead."""

    @property
    def acts_after_handling(self) -> bool:
        return self in (FaultKind.TIMEOUT_AFTER_CREATE, FaultKind.ERROR_AFTER_CREATE)


@dataclass
class FaultRule:
    kind: FaultKind
    endpoint: str | None = None
    """A route name (``create_order``, ``get_order``, ``track_batch``, ...) or None for all."""
    times: int | None = 1
    """How many requests it spoils; None: every request until cleared."""
    seconds: float = 0.0
    status: int = 500

    def matches(self, endpoint: str) -> bool:
        return (self.endpoint is None or self.endpoint == endpoint) and self.times != 0


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.fired: Counter[tuple[str, FaultKind]] = Counter()

    def add(self, kind: FaultKind | str, *, endpoint: str | None = None, times: int | None = 1,
            seconds: float = 0.0, status: int = 500) -> FaultRule:
        rule = FaultRule(FaultKind(kind), endpoint, times, seconds, status)
        if rule.kind in (FaultKind.TIMEOUT, FaultKind.LATENCY, FaultKind.TIMEOUT_AFTER_CREATE) \
                and seconds <= 0:
            raise ValueError(f"a {rule.kind} fault needs seconds > 0")
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, endpoint: str) -> FaultRule | None:
        """Consume one use of the first rule matching ``endpoint`` (None when no fault)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(endpoint):
                    if rule.times is not None:
                        rule.times -= 1
                    self.fired[(endpoint, rule.kind)] += 1
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.fired.clear()
