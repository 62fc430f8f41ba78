"""The reference supplier protocol's words in DropTrack's terms: carrier events and the
rejections a supplier answers with.

A carrier event is read from its raw carrier status first (DropTrack's own reading, in
`connectors.carriers.units`), the supplier's suggested status only as a fallback; a value
neither knows is unknown, never a guess.
"""

from __future__ import annotations

from core.status import Reason, Status

# The address field codes that mean "incomplete" (something missing), not "invalid".
ADDRESS_FIELD_CODES_INCOMPLETE = frozenset({"missing_house_number", "missing_postcode",
                                            "missing_province", "required"})
OUT_OF_STOCK = "out_of_stock"
INVALID_ADDRESS = "invalid_address"
INCOMPLETE_ADDRESS = "incomplete_address"


def suggested_status(status: str, reason: str) -> tuple[Status, Reason | None] | None:
    """The supplier's own suggestion, when DropTrack cannot read the raw carrier status; None
    when it names no status DropTrack knows (or a reason that does not belong to it)."""
    try:
        parsed = Status.parse(status)
        parsed_reason = Reason.parse(reason) if reason else None
    except ValueError:
        return None
    return parsed, parsed_reason


def address_rejection(field_codes: list[str]) -> str:
    """`incomplete_address` when every field the supplier refused is only missing, otherwise
    `invalid_address`."""
    if field_codes and all(code in ADDRESS_FIELD_CODES_INCOMPLETE for code in field_codes):
        return INCOMPLETE_ADDRESS
    return INVALID_ADDRESS
