"""Realistic parcel lives for the tracking sandboxes: China -> last-mile handover -> the end.

Each step is what a tracking service would show once the carrier scanned it, written in
17TRACK's sub-status vocabulary (17track FACTS §7) as the sandboxes' common language: a
sub-status, a key stage, a description and a place. The AfterShip and DHL sandboxes translate
each sub-status into their own words (their `vocabulary` tables). Times are offsets from
registration. The texts are the sandbox's own; real carriers word them in many ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Handover:
    """The last-mile carrier taking over with its own number (misc_info.local_*)."""

    number: str
    provider: str
    key: int


@dataclass(frozen=True)
class Step:
    after: timedelta
    sub_status: str
    stage: str | None
    description: str
    location: str
    handover: bool = False  # from this step on, misc_info names the last-mile number


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


CHINA_LEG = (
    Step(_h(0), "InfoReceived", "InfoReceived", "Shipment information received",
         "Shenzhen, CN"),
    Step(_h(14), "InTransit_PickedUp", "PickedUp", "Picked up by the carrier", "Shenzhen, CN"),
    Step(_h(30), "InTransit_Departure", "Departure", "Departed the export hub",
         "Shenzhen Bao'an Airport, CN"),
    Step(_h(80), "InTransit_Arrival", "Arrival", "Arrived at the destination country",
         "Los Angeles, US"),
    Step(_h(96), "InTransit_CustomsProcessing", None, "Customs clearance in progress",
         "Los Angeles, US"),
    Step(_h(110), "InTransit_CustomsReleased", None, "Released by customs",
         "Los Angeles, US"),
    Step(_h(130), "InTransit_Other", None, "Handed over to the last-mile carrier",
         "Los Angeles, US", handover=True),
)
OUT_FOR_DELIVERY = Step(_h(190), "OutForDelivery_Other", "OutForDelivery",
                        "Out for delivery", "Springfield, US", handover=True)


def _ending(*steps: tuple[float, str, str | None, str]) -> tuple[Step, ...]:
    return tuple(Step(_h(hours), sub, stage, text, "Springfield, US", handover=True)
                 for hours, sub, stage, text in steps)


def _life(*parts: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(step for part in parts for step in part)


def _failed(sub_status: str, text: str) -> tuple[Step, ...]:
    return _life(CHINA_LEG, (OUT_FOR_DELIVERY,), _ending((197, sub_status, None, text)))


SCENARIOS: dict[str, tuple[Step, ...]] = {
    "delivered": _life(CHINA_LEG, (OUT_FOR_DELIVERY,), _ending(
        (196, "Delivered_Other", "Delivered", "Delivered, in mailbox"))),
    "pickup": _life(CHINA_LEG, _ending(
        (200, "AvailableForPickup_Other", "AvailableForPickup",
         "Available for pick-up at the post office"),
        (250, "Delivered_Other", "Delivered", "Picked up by the recipient"))),
    "failed_nobody": _failed("DeliveryFailure_NoBody", "Delivery attempted: nobody at home"),
    "failed_address": _failed("DeliveryFailure_InvalidAddress",
                              "Delivery failed: address not found"),
    "failed_rejected": _failed("DeliveryFailure_Rejected", "Refused by the recipient"),
    "failed_security": _failed("DeliveryFailure_Security", "Delivery failed: security reasons"),
    "failed_other": _failed("DeliveryFailure_Other", "Delivery attempt failed"),
    "returned": _life(CHINA_LEG, (OUT_FOR_DELIVERY,), _ending(
        (197, "DeliveryFailure_Rejected", None, "Refused by the recipient"),
        (220, "Exception_Returning", "Returning", "Returning to the sender"),
        (600, "Exception_Returned", "Returned", "Returned to the sender"))),
    "lost": _life(CHINA_LEG, _ending(
        (400, "Exception_Lost", None, "The carrier reports the parcel lost"))),
    "customs": _life(CHINA_LEG[:5], (
        Step(_h(100), "InTransit_CustomsRequiringInformation", None,
             "Customs requires information from the recipient", "Los Angeles, US"),)),
    "expired": _life(CHINA_LEG[:3], (
        Step(_h(30 * 24), "Expired_Other", None, "No tracking updates for 30 days",
             "Shenzhen, CN"),)),
    "invalid": (Step(_h(24), "NotFound_InvalidCode", None,
                     "The carrier does not recognise this number", ""),),
}

DEFAULT_SCENARIO = "delivered"
LAST_MILE_PROVIDER = ("USPS", 21051)


def last_mile_number(number: str) -> str:
    """A USPS-looking 22-digit last-mile number derived from the registered one."""
    digits = "".join(str(ord(ch) % 10) for ch in number)
    return ("9400" + digits + "0" * 18)[:22]


def handover_for(number: str) -> Handover:
    provider, key = LAST_MILE_PROVIDER
    return Handover(last_mile_number(number), provider, key)
