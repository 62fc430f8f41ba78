"""A carrier's raw status (code + description) to DropTrack's status and reason.

Raw codes are ambiguous (UPU "EMH" and consolidators' "DELIVERY_FAILED" cover every failed
delivery; DHL reports a customs hold as "transit"), so the description is read first for the
facts that matter to a customer, then the code. What neither explains maps to None: unknown,
never a guess (the caller may fall back to the supplier's own suggestion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.status import Reason, Status


@dataclass(frozen=True)
class Normalized:
    status: Status
    reason: Reason | None = None


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Description rules, most specific first.
DESCRIPTION_RULES: tuple[tuple[re.Pattern[str], Normalized], ...] = (
    (_rule(r"\b(collected|picked up) (by|from)|individual picked up|collected at"),
     Normalized(Status.DELIVERED)),
    (_rule(r"\bdelivered\b(?! to ups access point)"), Normalized(Status.DELIVERED)),
    (_rule(r"\brefus"), Normalized(Status.UNDELIVERED, Reason.REFUSED)),
    (_rule(r"incomplete address|insufficient address|missing (house|unit|apartment)"),
     Normalized(Status.UNDELIVERED, Reason.INCOMPLETE_ADDRESS)),
    (_rule(r"incorrect address|address is incorrect|undeliverable as addressed|bad address"),
     Normalized(Status.UNDELIVERED, Reason.INVALID_ADDRESS)),
    (_rule(r"not (available|home)|addressee absent|notice left|no authorized recipient"),
     Normalized(Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE)),
    (_rule(r"return(ed|ing)? to (the )?(sender|shipper)|\breturning\b"),
     Normalized(Status.EXCEPTION, Reason.RETURN_TO_SENDER)),
    (_rule(r"pick-?up point|available for pick-?up|held at post office|ready for collection|"
           r"awaiting (customer )?(pickup|collection)"),
     Normalized(Status.READY_FOR_PICKUP)),
    (_rule(r"out (for|with courier for) delivery"), Normalized(Status.OUT_FOR_DELIVERY)),
    (_rule(r"(held|hold|inspection).*(customs|clearance)|customs.*(held|hold|inspection)|"
           r"clearance event"),
     Normalized(Status.EXCEPTION, Reason.CUSTOMS)),
    (_rule(r"\b(lost|not found|unable to locate|could not (be )?locate(d)?)\b"),
     Normalized(Status.EXCEPTION, Reason.LOST)),
    (_rule(r"\bdelay|rescheduled|arriving late"), Normalized(Status.EXCEPTION, Reason.DELAYED)),
    (_rule(r"label created|created a label|information received|awaiting item|"
           r"order received"),
     Normalized(Status.INFO_RECEIVED)),
)

# Codes whose meaning does not depend on the description.
CODES: dict[str, Normalized] = {
    # UPU EMSEVT events, as posts and ePacket trackers show them.
    "PRE": Normalized(Status.INFO_RECEIVED),
    "EMA": Normalized(Status.IN_TRANSIT), "EMB": Normalized(Status.IN_TRANSIT),
    "EMC": Normalized(Status.IN_TRANSIT), "EMD": Normalized(Status.IN_TRANSIT),
    "EME": Normalized(Status.EXCEPTION, Reason.CUSTOMS), "EMF": Normalized(Status.IN_TRANSIT),
    "EMG": Normalized(Status.IN_TRANSIT), "EMK": Normalized(Status.IN_TRANSIT),
    "EMI": Normalized(Status.DELIVERED), "EMJ": Normalized(Status.EXCEPTION, Reason.DELAYED),
    "EML": Normalized(Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    # Consolidators (YunExpress, 4PX, Cainiao).
    "ORDER_RECEIVED": Normalized(Status.INFO_RECEIVED),
    "PICKED_UP": Normalized(Status.IN_TRANSIT), "SORTING_OUT": Normalized(Status.IN_TRANSIT),
    "LINEHAUL_DEPART": Normalized(Status.IN_TRANSIT),
    "LINEHAUL_ARRIVE": Normalized(Status.IN_TRANSIT),
    "CUSTOMS_HOLD": Normalized(Status.EXCEPTION, Reason.CUSTOMS),
    "CUSTOMS_RELEASED": Normalized(Status.IN_TRANSIT),
    "LASTMILE_RECEIVED": Normalized(Status.IN_TRANSIT),
    "LASTMILE_HANDOVER": Normalized(Status.IN_TRANSIT),
    "OUT_FOR_DELIVERY": Normalized(Status.OUT_FOR_DELIVERY),
    "DELIVERED": Normalized(Status.DELIVERED),
    "PICKUP_POINT": Normalized(Status.READY_FOR_PICKUP),
    "RETURNING": Normalized(Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    # USPS event codes.
    "GX": Normalized(Status.INFO_RECEIVED), "03": Normalized(Status.IN_TRANSIT),
    "10": Normalized(Status.IN_TRANSIT), "EF": Normalized(Status.IN_TRANSIT),
    "A1": Normalized(Status.IN_TRANSIT), "IN": Normalized(Status.EXCEPTION, Reason.CUSTOMS),
    "IC": Normalized(Status.IN_TRANSIT), "07": Normalized(Status.IN_TRANSIT),
    "HO": Normalized(Status.IN_TRANSIT), "OF": Normalized(Status.OUT_FOR_DELIVERY),
    "01": Normalized(Status.DELIVERED), "16": Normalized(Status.READY_FOR_PICKUP),
    "02": Normalized(Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "04": Normalized(Status.UNDELIVERED, Reason.REFUSED),
    "05": Normalized(Status.UNDELIVERED, Reason.INVALID_ADDRESS),
    "NT": Normalized(Status.EXCEPTION, Reason.DELAYED),
    "LS": Normalized(Status.EXCEPTION, Reason.LOST),
    "29": Normalized(Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    # UPS activity types.
    "M": Normalized(Status.INFO_RECEIVED), "P": Normalized(Status.IN_TRANSIT),
    "I": Normalized(Status.IN_TRANSIT), "D": Normalized(Status.DELIVERED),
    # DHL unified status codes.
    "PRE-TRANSIT": Normalized(Status.INFO_RECEIVED), "TRANSIT": Normalized(Status.IN_TRANSIT),
}
# Codes that only say "something went wrong": the description must say what.
DESCRIPTION_REQUIRED = frozenset({"EMH", "DELIVERY_FAILED", "EXCEPTION", "X", "FAILURE"})


def normalize(raw_status: str, description: str = "") -> Normalized | None:
    """The status a raw carrier event means, or None when it cannot be told."""
    for pattern, meaning in DESCRIPTION_RULES:
        if description and pattern.search(description):
            return meaning
    code = raw_status.strip().upper()
    if code in DESCRIPTION_REQUIRED:
        return None
    return CODES.get(code)
