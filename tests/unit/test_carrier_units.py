"""Raw carrier statuses to DropTrack's status model."""

from __future__ import annotations

import pytest

from connectors.carriers.units import Normalized, normalize
from core.status import Reason, Status

CASES = [
    ("EMA", "Posting/Collection", Status.IN_TRANSIT, None),
    ("EME", "Held by import customs", Status.EXCEPTION, Reason.CUSTOMS),
    ("EMG", "Out for delivery", Status.OUT_FOR_DELIVERY, None),
    ("EMH", "Unsuccessful delivery: addressee absent, notice left",
     Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    ("EMH", "Unsuccessful delivery: incorrect address", Status.UNDELIVERED,
     Reason.INVALID_ADDRESS),
    ("EMH", "Unsuccessful delivery: item held at post office for collection",
     Status.READY_FOR_PICKUP, None),
    ("EMI", "Final delivery", Status.DELIVERED, None),
    ("EMI", "Final delivery: collected at post office", Status.DELIVERED, None),
    ("DELIVERY_FAILED", "Delivery failed: refused by recipient", Status.UNDELIVERED,
     Reason.REFUSED),
    ("DELIVERY_FAILED", "Delivery failed: missing house number", Status.UNDELIVERED,
     Reason.INCOMPLETE_ADDRESS),
    ("PICKUP_POINT", "Arrived at pick-up point, awaiting collection", Status.READY_FOR_PICKUP,
     None),
    ("transit", "Clearance event: shipment on hold", Status.EXCEPTION, Reason.CUSTOMS),
    ("transit", "Shipment is out with courier for delivery", Status.OUT_FOR_DELIVERY, None),
    ("I", "Delivered to UPS Access Point and awaiting customer pickup",
     Status.READY_FOR_PICKUP, None),
    ("D", "Picked up by customer at UPS Access Point", Status.DELIVERED, None),
    ("01", "Delivered, In/At Mailbox", Status.DELIVERED, None),
    ("02", "Notice Left (No Authorized Recipient Available)", Status.UNDELIVERED,
     Reason.RECIPIENT_UNAVAILABLE),
    ("29", "Return to Sender Processed", Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    ("GX", "Shipping Label Created, USPS Awaiting Item", Status.INFO_RECEIVED, None),
    ("IC", "Customs Clearance Processing Complete", Status.IN_TRANSIT, None),
]


@pytest.mark.parametrize(("raw", "description", "status", "reason"), CASES)
def test_raw_statuses_are_normalized(raw: str, description: str, status: Status,
                                     reason: Reason | None) -> None:
    assert normalize(raw, description) == Normalized(status, reason)


@pytest.mark.parametrize(("raw", "description"), [
    ("EMH", "Unsuccessful delivery"), ("X", "Exception"), ("ZZZ", "Something happened"),
    ("", ""),
])
def test_what_cannot_be_told_is_unknown_not_a_guess(raw: str, description: str) -> None:
    assert normalize(raw, description) is None


def test_agrees_with_the_reference_suppliers_suggestions() -> None:
    """Two independent readings of every raw status the reference supplier emits."""
    from sandboxes.supplier.timelines import SUGGESTED, VOCABULARIES

    checked = 0
    for family, vocabulary in VOCABULARIES.items():
        for milestone, (raw, description) in vocabulary.items():
            expected = SUGGESTED[milestone]
            assert normalize(raw, description) == Normalized(*expected), (family, milestone)
            checked += 1
    assert checked >= 80
