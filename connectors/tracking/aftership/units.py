"""AfterShip's vocabulary in DropTrack's terms: tags, subtags, courier slugs, meta codes.

Tags (9) and subtags `<Tag>_NNN` (FACTS "Tags and subtags"). A subtag maps to a DropTrack
status and reason; a subtag not in the table falls back to its tag's own row (the tag is
certain, the subtag's detail is not); an unknown tag is unknown (None), never a guess.
`Pending` is not a status (nothing from the carrier yet) and `Expired` is a "stuck" alert
(AfterShip heard nothing for 30 days), never "delivered".

UNCERTAIN: FACTS could read the subtag table only in part. The rows FACTS names carry their
documented meaning; the others (marked `# partly read`) are mapped to their tag's status and
given a reason only where the subtag's published name says it outright (returning/returned,
lost). Where unsure the reason is left empty: a plain "exception" is true, a wrong reason is not.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from connectors.tracking.base import ProblemKind
from connectors.tracking.common import Unit
from core.status import Reason, Status

_U = Unit
_UNDELIVERED, _EXCEPTION = Status.UNDELIVERED, Status.EXCEPTION

TAGS: Final = MappingProxyType({
    "Pending": _U(None),
    "InfoReceived": _U(Status.INFO_RECEIVED),
    "InTransit": _U(Status.IN_TRANSIT),
    "OutForDelivery": _U(Status.OUT_FOR_DELIVERY),
    "AttemptFail": _U(_UNDELIVERED),
    "Delivered": _U(Status.DELIVERED),
    "AvailableForPickup": _U(Status.READY_FOR_PICKUP),
    "Exception": _U(_EXCEPTION),
    "Expired": _U(None, expired=True),
})
"""The 9 tags."""

SUBTAGS: Final = MappingProxyType({
    "Pending_001": TAGS["Pending"],
    "Pending_002": TAGS["Pending"],  # partly read
    "Pending_003": TAGS["Pending"],  # partly read
    "Pending_004": TAGS["Pending"],  # partly read
    "Pending_005": TAGS["Pending"],  # partly read
    "Pending_006": TAGS["Pending"],  # partly read
    "InfoReceived_001": TAGS["InfoReceived"],
    "InTransit_001": TAGS["InTransit"],
    "InTransit_002": TAGS["InTransit"],  # partly read: accepted by the carrier
    "InTransit_003": TAGS["InTransit"],  # partly read: arrived at a hub
    "InTransit_004": TAGS["InTransit"],  # partly read: arrived in the destination country
    "InTransit_005": TAGS["InTransit"],  # partly read: customs clearance completed
    "InTransit_006": TAGS["InTransit"],  # partly read: handed to customs
    "InTransit_007": TAGS["InTransit"],  # departure scan
    "InTransit_008": TAGS["InTransit"],  # partly read: problem resolved
    "InTransit_009": TAGS["InTransit"],  # partly read: forwarded to another address
    "OutForDelivery_001": TAGS["OutForDelivery"],
    "OutForDelivery_003": TAGS["OutForDelivery"],  # partly read: customer contacted
    "OutForDelivery_004": TAGS["OutForDelivery"],  # partly read: appointment scheduled
    "AttemptFail_001": TAGS["AttemptFail"],
    "AttemptFail_002": _U(_UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),  # partly read
    "AttemptFail_003": _U(_UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),  # partly read: closed
    "Delivered_001": TAGS["Delivered"],
    "Delivered_002": TAGS["Delivered"],  # picked up by the customer
    "Delivered_003": TAGS["Delivered"],  # signed by the customer
    "Delivered_004": TAGS["Delivered"],  # delivered, cash on delivery received
    "Delivered_005": TAGS["Delivered"],  # delivered to a neighbour
    "AvailableForPickup_001": TAGS["AvailableForPickup"],
    "Exception_001": TAGS["Exception"],
    "Exception_002": _U(_UNDELIVERED, Reason.INVALID_ADDRESS),  # customer moved
    "Exception_003": _U(_UNDELIVERED, Reason.REFUSED),  # customer refused
    "Exception_004": _U(_EXCEPTION, Reason.CUSTOMS),  # delayed (customs)
    "Exception_005": _U(_EXCEPTION, Reason.DELAYED),  # delayed (external factors)
    "Exception_006": _U(_EXCEPTION, Reason.CUSTOMS),  # held for payment (duties)
    "Exception_007": TAGS["Exception"],  # partly read
    "Exception_008": TAGS["Exception"],  # partly read: not picked up
    "Exception_009": TAGS["Exception"],  # partly read: damaged
    "Exception_010": _U(_EXCEPTION, Reason.RETURN_TO_SENDER),  # partly read: returning
    "Exception_011": _U(_EXCEPTION, Reason.RETURN_TO_SENDER),  # partly read: returned
    "Exception_012": TAGS["Exception"],  # partly read
    "Exception_013": _U(_EXCEPTION, Reason.LOST),  # partly read: lost
    "Exception_014": TAGS["Exception"],  # partly read
    "Exception_015": TAGS["Exception"],  # partly read
    "Exception_016": _U(_EXCEPTION, Reason.DELAYED),  # delayed (processing issue)
    "Exception_017": _U(_EXCEPTION, Reason.DELAYED),  # delayed (extreme weather)
    "Exception_018": _U(_EXCEPTION, Reason.CUSTOMS),  # incorrect or missing documents
    "Expired_001": TAGS["Expired"],
})
"""Every subtag DropTrack reads, by name."""


def unit(tag: str | None, subtag: str | None) -> Unit | None:
    """DropTrack's reading of a (tag, subtag) pair; None when unknown."""
    if subtag and subtag in SUBTAGS:
        return SUBTAGS[subtag]
    if tag and tag in TAGS:
        return TAGS[tag]
    if subtag and not tag:
        return TAGS.get(subtag.rpartition("_")[0])
    return None


# --- couriers ---------------------------------------------------------------------------------

CARRIER_BY_SLUG: Final = MappingProxyType({
    "china-post": "china_post",
    "china-ems": "china_post",
    "usps": "usps",
    "ups": "ups",
    "fedex": "fedex",
    "dhl": "dhl_express",
    "dhl-global-mail": "dhl_ecommerce",
    "yunexpress": "yunexpress",
    "4px": "4px",
    "cainiao": "cainiao",
    "royal-mail": "royal_mail",
    "canada-post": "canada_post",
    "australia-post": "australia_post",
    "postnl": "postnl",
})
SLUG_BY_CARRIER: Final = MappingProxyType({
    carrier: slug for slug, carrier in CARRIER_BY_SLUG.items() if slug != "china-ems"})


def carrier_for_slug(slug: str | None) -> str | None:
    return CARRIER_BY_SLUG.get(slug) if slug else None


def slug_for_carrier(carrier_id: str | None) -> str | None:
    return SLUG_BY_CARRIER.get(carrier_id) if carrier_id else None


# --- meta codes (FACTS "Errors", from the official SDK's meta_code.ts) -------------------------

ALREADY_EXISTS = 4003
DOES_NOT_EXIST = 4004
API_KEY_INVALID = 401
TOO_MANY_REQUESTS = 429
AUTH_ERRORS: Final = frozenset({API_KEY_INVALID, 403})

PROBLEM_BY_CODE: Final = MappingProxyType({
    ALREADY_EXISTS: ProblemKind.ALREADY_TRACKED,
    DOES_NOT_EXIST: ProblemKind.NOT_TRACKED,
    404: ProblemKind.NOT_TRACKED,
    4005: ProblemKind.INVALID_NUMBER,  # tracking number invalid
    4007: ProblemKind.INVALID_NUMBER,  # tracking number required
    4017: ProblemKind.INVALID_NUMBER,  # tracking number format invalid
    4010: ProblemKind.CARRIER_UNKNOWN,  # slug invalid
    4012: ProblemKind.CARRIER_UNKNOWN,  # bad courier: the number matches no courier
    4013: ProblemKind.NOT_ALLOWED,  # retrack of an inactive tracking not allowed
    4016: ProblemKind.NOT_ALLOWED,  # retrack only once
})


def problem_kind(code: int) -> ProblemKind:
    return PROBLEM_BY_CODE.get(code, ProblemKind.OTHER)
