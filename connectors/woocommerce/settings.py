"""One WooCommerce store's choices, kept in `stores.settings["woocommerce"]`.

Defaults live here (a store without settings behaves as documented); the connect flow and the
CLI write the keys. `capabilities` is the cached probe (see capabilities.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.woocommerce.units import CompleteOn

SETTINGS_KEY = "woocommerce"
StatusUpdates = Literal["batched", "immediate"]
StatusReads = Literal["remembered", "always"]


@dataclass(frozen=True)
class StoreSettings:
    # When the order becomes "completed": as soon as it ships, or once delivered.
    complete_on: CompleteOn = "shipped"
    # "batched": the status sweep sets statuses through orders/batch (100 per call);
    # "immediate": each write-back sets its order's status itself (one more call per order).
    status_updates: StatusUpdates = "batched"
    # Before a batched flush: "remembered" reads only the orders changed since DropTrack last
    # knew every order's status (and trusts the status it remembers for the rest); "always"
    # reads every order the flush would move (the behaviour before migration 0012).
    status_reads: StatusReads = "remembered"
    # A CA bundle to trust for this store's https (a private CA); empty: the system's.
    ca_bundle: str = ""
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    capabilities: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_store(cls, settings: Mapping[str, object]) -> StoreSettings:
        raw = settings.get(SETTINGS_KEY)
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        complete_on = data.get("complete_on", "shipped")
        status_updates = data.get("status_updates", "batched")
        if complete_on not in ("shipped", "delivered"):
            raise ValueError(f"woocommerce.complete_on must be shipped or delivered, "
                             f"not {complete_on!r}")
        if status_updates not in ("batched", "immediate"):
            raise ValueError(f"woocommerce.status_updates must be batched or immediate, "
                             f"not {status_updates!r}")
        status_reads = data.get("status_reads", "remembered")
        if status_reads not in ("remembered", "always"):
            raise ValueError(f"woocommerce.status_reads must be remembered or always, "
                             f"not {status_reads!r}")
        capabilities = data.get("capabilities")
        return cls(
            complete_on=complete_on, status_updates=status_updates, status_reads=status_reads,
            ca_bundle=str(data.get("ca_bundle") or ""),
            connect_timeout_seconds=float(data.get("connect_timeout_seconds", 5.0)),
            read_timeout_seconds=float(data.get("read_timeout_seconds", 30.0)),
            capabilities=capabilities if isinstance(capabilities, Mapping) else {},
        )

    @property
    def verify(self) -> bool | str:
        return self.ca_bundle or True


def merged(settings: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a store's settings with keys of its `woocommerce` section changed."""
    section = settings.get(SETTINGS_KEY)
    current = dict(section) if isinstance(section, Mapping) else {}
    return {**settings, SETTINGS_KEY: {**current, **changes}}
