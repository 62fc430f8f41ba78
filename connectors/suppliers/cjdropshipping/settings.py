"""How one CJdropshipping account is configured."""

from __future__ import annotations

from dataclasses import dataclass

BASE_URL = "https://developers.cjdropshipping.com/api2.0/v1"


@dataclass(frozen=True)
class CJSettings:
    api_key: str  # "CJUserNum@api@<32 hex>", from My CJ -> Authorization -> API
    base_url: str = BASE_URL
    # Pay each order from the CJ balance (payType 2). Off: create only (payType 3) and the
    # order waits for the owner to pay it at CJ.
    pay_from_balance: bool = False
    from_country: str = "CN"  # the CJ warehouse country orders ship from (fromCountryCode)
    requests_per_second: float = 1.0  # the account level's QPS (free/level 0-1: 1)
    timeout_seconds: float = 20.0
    ca_bundle: str | None = None
    # How many pages of 50 recent orders to search for our reference (find_order).
    find_pages: int = 4
