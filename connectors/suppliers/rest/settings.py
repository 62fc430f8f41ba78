"""How one REST supplier account is configured."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestSupplierSettings:
    base_url: str  # e.g. https://api.supplier.example (the /v1 prefix is added)
    api_key: str
    timeout_seconds: float = 15.0
    ca_bundle: str | None = None
