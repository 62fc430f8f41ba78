"""What DropTrack asks of Shopify and what a connected Shopify store may configure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Scopes DropTrack asks for at install and checks were granted (`write_x` implies `read_x`).
REQUIRED_SCOPES = ("read_orders", "write_merchant_managed_fulfillment_orders",
                   "write_fulfillments")
# Order topics plus uninstall; compliance topics are subscribed in the app's configuration.
WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED",
                  "APP_UNINSTALLED")
WEBHOOK_PATH = "/webhooks/shopify"
DEFAULT_API_VERSION = "2026-07"

# How Shopify hands orders to DropTrack (the store row's `fulfillment_mode` setting):
# * merchant-managed (default, and what a merchant's own custom app uses): orders arrive by
#   webhook and DropTrack fulfils the fulfillment orders of the merchant's locations;
# * fulfillment service (what Shopify expects of a public dropshipping app): DropTrack registers
#   a fulfillment service, Shopify asks it to fulfil the fulfillment orders routed to that
#   service's location, and DropTrack accepts (then forwards and fulfils) or rejects each request.
MERCHANT_MANAGED = "merchant_managed"
FULFILLMENT_SERVICE = "fulfillment_service"
FULFILLMENT_MODES = (MERCHANT_MANAGED, FULFILLMENT_SERVICE)
FULFILLMENT_SERVICE_NAME = "DropTrack"
# Shopify POSTs `<callbackUrl>/fulfillment_order_notification`; the callback names the store.
FULFILLMENT_SERVICE_PATH = "/shopify/fulfillment_service/{store_id}"
FULFILLMENT_SERVICE_SCOPES = ("write_assigned_fulfillment_orders", "write_fulfillments")


@dataclass(frozen=True)
class StoreSettings:
    """One store's Shopify options (the `settings` JSON of its store row)."""

    api_version: str = DEFAULT_API_VERSION
    # Email the customer when the first shipment of an order is fulfilled (Shopify's own
    # shipping confirmation); later updates never notify, so nobody gets the same news twice.
    notify_customer: bool = True
    # Tests and the demo only: where the shop's admin lives (the sandbox serves every shop under
    # `<base>/shops/<shop>`). Ignored unless loopback HTTP is allowed; production always talks
    # to https://<shop>.
    admin_base_url: str = ""
    # MERCHANT_MANAGED or FULFILLMENT_SERVICE (anything else reads as merchant-managed).
    fulfillment_mode: str = MERCHANT_MANAGED
    # Learned when the fulfillment service is registered (fulfillment-service mode only).
    fulfillment_service_id: str = ""
    fulfillment_location_id: str = ""

    @property
    def fulfillment_service(self) -> bool:
        return self.fulfillment_mode == FULFILLMENT_SERVICE

    @classmethod
    def parse(cls, raw: dict[str, Any], *, allow_override: bool) -> StoreSettings:
        base = str(raw.get("admin_base_url") or "") if allow_override else ""
        mode = str(raw.get("fulfillment_mode") or MERCHANT_MANAGED)
        return cls(api_version=str(raw.get("api_version") or DEFAULT_API_VERSION),
                   notify_customer=raw.get("notify_customer", True) is not False,
                   admin_base_url=base.rstrip("/"),
                   fulfillment_mode=mode if mode in FULFILLMENT_MODES else MERCHANT_MANAGED,
                   fulfillment_service_id=str(raw.get("fulfillment_service_id") or ""),
                   fulfillment_location_id=str(raw.get("fulfillment_location_id") or ""))


def granted(scopes: str, required: str) -> bool:
    have = {scope.strip() for scope in scopes.split(",") if scope.strip()}
    return required in have or (required.startswith("read_")
                                 and "write_" + required.removeprefix("read_") in have)


def missing_scopes(scopes: str, required: tuple[str, ...] = REQUIRED_SCOPES) -> list[str]:
    return [scope for scope in required if not granted(scopes, scope)]
