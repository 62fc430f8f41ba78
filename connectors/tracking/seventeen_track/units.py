"""17TRACK's vocabulary in DropTrack's terms: statuses, sub-statuses, carrier keys, error codes.

Statuses: 9 main statuses and 30 sub-statuses (v2.2 and v2.4 share them). A sub-status maps to
a DropTrack status and reason; an unknown sub-status of a known main status falls back to the
main status's own row; anything else is unknown (None), never a guess. Two rows are not a
status at all: `NotFound` (nothing from the carrier yet: the parcel stays where it is, and
`NotFound_InvalidCode` is a problem for the owner) and `Expired` (17TRACK gave up after a long
silence: a "stuck" alert, never "delivered").
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from connectors.tracking.base import ProblemKind
from connectors.tracking.common import Unit
from core.status import Reason, Status

_U = Unit
_UNDELIVERED = Status.UNDELIVERED
_EXCEPTION = Status.EXCEPTION

SUB_STATUSES: Final = MappingProxyType({
    "NotFound_Other": _U(None),
    "NotFound_InvalidCode": _U(None, invalid_number=True),
    "InfoReceived": _U(Status.INFO_RECEIVED),
    "InTransit_PickedUp": _U(Status.IN_TRANSIT),
    "InTransit_Other": _U(Status.IN_TRANSIT),
    "InTransit_Departure": _U(Status.IN_TRANSIT),
    "InTransit_Arrival": _U(Status.IN_TRANSIT),
    "InTransit_CustomsProcessing": _U(Status.IN_TRANSIT),
    "InTransit_CustomsReleased": _U(Status.IN_TRANSIT),
    # Customs wants something (documents, duties) before it lets the parcel go on.
    "InTransit_CustomsRequiringInformation": _U(_EXCEPTION, Reason.CUSTOMS),
    "Expired_Other": _U(None, expired=True),
    "AvailableForPickup_Other": _U(Status.READY_FOR_PICKUP),
    "OutForDelivery_Other": _U(Status.OUT_FOR_DELIVERY),
    "DeliveryFailure_Other": _U(_UNDELIVERED),
    "DeliveryFailure_NoBody": _U(_UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "DeliveryFailure_Security": _U(_UNDELIVERED),
    "DeliveryFailure_Rejected": _U(_UNDELIVERED, Reason.REFUSED),
    "DeliveryFailure_InvalidAddress": _U(_UNDELIVERED, Reason.INVALID_ADDRESS),
    "Delivered_Other": _U(Status.DELIVERED),
    "Exception_Other": _U(_EXCEPTION),
    "Exception_Returning": _U(_EXCEPTION, Reason.RETURN_TO_SENDER),
    "Exception_Returned": _U(_EXCEPTION, Reason.RETURN_TO_SENDER),
    "Exception_NoBody": _U(_UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "Exception_Security": _U(_EXCEPTION, Reason.CUSTOMS),
    "Exception_Damage": _U(_EXCEPTION),
    "Exception_Rejected": _U(_UNDELIVERED, Reason.REFUSED),
    "Exception_Delayed": _U(_EXCEPTION, Reason.DELAYED),
    "Exception_Lost": _U(_EXCEPTION, Reason.LOST),
    "Exception_Destroyed": _U(_EXCEPTION, Reason.LOST),
    "Exception_Cancel": _U(_EXCEPTION),
})
"""Every sub-status 17TRACK documents (FACTS §7), by name."""

MAIN_STATUSES: Final = MappingProxyType({
    "NotFound": SUB_STATUSES["NotFound_Other"],
    "InfoReceived": SUB_STATUSES["InfoReceived"],
    "InTransit": SUB_STATUSES["InTransit_Other"],
    "Expired": SUB_STATUSES["Expired_Other"],
    "AvailableForPickup": SUB_STATUSES["AvailableForPickup_Other"],
    "OutForDelivery": SUB_STATUSES["OutForDelivery_Other"],
    "DeliveryFailure": SUB_STATUSES["DeliveryFailure_Other"],
    "Delivered": SUB_STATUSES["Delivered_Other"],
    "Exception": SUB_STATUSES["Exception_Other"],
})
"""The 9 main statuses, each as its generic ("_Other") sub-status."""


def unit(status: str | None, sub_status: str | None) -> Unit | None:
    """DropTrack's reading of a (main status, sub-status) pair; None when unknown."""
    if sub_status and sub_status in SUB_STATUSES:
        return SUB_STATUSES[sub_status]
    if status and status in MAIN_STATUSES:
        return MAIN_STATUSES[status]
    if sub_status and not status:
        main = sub_status.partition("_")[0]
        return MAIN_STATUSES.get(main)
    return None


# --- carriers ---------------------------------------------------------------------------------

# 17TRACK carrier keys (FACTS §9) of the carriers DropTrack knows (connectors/carriers/registry).
# Keys 17TRACK has that DropTrack's registry lacks (3013 China EMS, 2151 Correios, 100005 GLS,
# 7041 DHL Paket, 190012 YanWen) stay unmapped: the parcel keeps 17TRACK's carrier name.
CARRIER_BY_KEY: Final = MappingProxyType({
    3011: "china_post",
    21051: "usps",
    100001: "dhl_express",
    100002: "ups",
    100003: "fedex",
    190271: "cainiao",
    190107: "yunexpress",
})
KEY_BY_CARRIER: Final = MappingProxyType({value: key for key, value in CARRIER_BY_KEY.items()})


def carrier_for_key(key: object) -> str | None:
    """DropTrack's carrier id for a 17TRACK carrier key (an int, or an int as a string)."""
    try:
        number = int(str(key))
    except ValueError:
        return None
    return CARRIER_BY_KEY.get(number)


def key_for_carrier(carrier_id: str | None) -> int | None:
    return KEY_BY_CARRIER.get(carrier_id) if carrier_id else None


# --- error codes ------------------------------------------------------------------------------

ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_NOT_DETECTED = -18019903
DAILY_LIMIT = -18019907
QUOTA_EXHAUSTED = -18019908
INVALID_KEY = -18010002
TOO_MANY_NUMBERS = -18010014
INTERNAL_ERROR = -18010003

AUTH_ERRORS: Final = frozenset({-18010001, INVALID_KEY, -18010004, -18010005})
RETRY_ERRORS: Final = frozenset({INTERNAL_ERROR})

PROBLEM_BY_CODE: Final = MappingProxyType({
    ALREADY_REGISTERED: ProblemKind.ALREADY_TRACKED,
    NOT_REGISTERED: ProblemKind.NOT_TRACKED,
    CARRIER_NOT_DETECTED: ProblemKind.CARRIER_UNKNOWN,
    -18019910: ProblemKind.CARRIER_UNKNOWN,  # incorrect carrier code
    -18019911: ProblemKind.CARRIER_UNKNOWN,  # carrier cannot be registered
    -18010013: ProblemKind.CARRIER_UNKNOWN,  # invalid submitted data (e.g. carrier)
    -18019802: ProblemKind.CARRIER_UNKNOWN,  # carrier_new incorrect
    -18010012: ProblemKind.INVALID_NUMBER,  # invalid data format (malformed number)
    -18010011: ProblemKind.INVALID_NUMBER,
    -18010015: ProblemKind.INVALID_NUMBER,
    DAILY_LIMIT: ProblemKind.QUOTA_EXHAUSTED,
    QUOTA_EXHAUSTED: ProblemKind.QUOTA_EXHAUSTED,
    -18019904: ProblemKind.NOT_ALLOWED,  # retrack only stopped numbers
    -18019905: ProblemKind.NOT_ALLOWED,  # retrack only once
    -18019906: ProblemKind.NOT_ALLOWED,  # stop only while tracking
    -18019806: ProblemKind.NOT_ALLOWED,  # no carrier change on a stopped number
    -18019807: ProblemKind.NOT_ALLOWED,  # carrier change limit (5) reached
    -18019803: ProblemKind.NOT_ALLOWED,  # change to the same carrier
    -18019805: ProblemKind.NOT_ALLOWED,  # carrier_old does not match
})


def problem_kind(code: int) -> ProblemKind:
    return PROBLEM_BY_CODE.get(code, ProblemKind.OTHER)


# Key stages (`milestone[].key_stage`, `event.stage`): read only when an event has no sub-status.
STAGES: Final = MappingProxyType({
    "InfoReceived": Unit(Status.INFO_RECEIVED),
    "PickedUp": Unit(Status.IN_TRANSIT),
    "Departure": Unit(Status.IN_TRANSIT),
    "Arrival": Unit(Status.IN_TRANSIT),
    "AvailableForPickup": Unit(Status.READY_FOR_PICKUP),
    "OutForDelivery": Unit(Status.OUT_FOR_DELIVERY),
    "Delivered": Unit(Status.DELIVERED),
    "Returning": Unit(_EXCEPTION, Reason.RETURN_TO_SENDER),
    "Returned": Unit(_EXCEPTION, Reason.RETURN_TO_SENDER),
})
