"""The shared parcel lives (17TRACK sub-statuses, sandboxes/trackers/timelines.py) in
AfterShip's words: each step's tag and subtag, and the couriers' slugs."""

from __future__ import annotations

SUBTAG_BY_STEP: dict[str, str] = {
    "NotFound_Other": "Pending_001",
    "NotFound_InvalidCode": "Pending_001",  # AfterShip shows nothing for an unknown number
    "InfoReceived": "InfoReceived_001",
    "InTransit_PickedUp": "InTransit_002",
    "InTransit_Departure": "InTransit_007",
    "InTransit_Arrival": "InTransit_004",
    "InTransit_CustomsProcessing": "InTransit_006",
    "InTransit_CustomsReleased": "InTransit_005",
    "InTransit_Other": "InTransit_001",
    "InTransit_CustomsRequiringInformation": "Exception_018",
    "OutForDelivery_Other": "OutForDelivery_001",
    "AvailableForPickup_Other": "AvailableForPickup_001",
    "Delivered_Other": "Delivered_001",
    "DeliveryFailure_NoBody": "AttemptFail_002",
    "DeliveryFailure_InvalidAddress": "Exception_002",
    "DeliveryFailure_Rejected": "Exception_003",
    "DeliveryFailure_Security": "AttemptFail_001",
    "DeliveryFailure_Other": "AttemptFail_001",
    "Exception_Returning": "Exception_010",
    "Exception_Returned": "Exception_011",
    "Exception_Lost": "Exception_013",
    "Expired_Other": "Expired_001",
}

SLUG_BY_CARRIER: dict[str, str] = {
    "china_post": "china-post", "yunexpress": "yunexpress", "cainiao": "cainiao",
    "ups": "ups", "usps": "usps", "correios": "brazil-correios", "dhl": "dhl",
}
SLUGS = frozenset({*SLUG_BY_CARRIER.values(), "china-ems", "fedex", "4px", "dhl-global-mail"})
LAST_MILE_SLUG = "usps"


def subtag(step_sub_status: str) -> tuple[str, str]:
    """(tag, subtag) for a step of a shared life."""
    found = SUBTAG_BY_STEP[step_sub_status]
    return found.rpartition("_")[0], found
