"""The owner's vocabulary covers every status and reason, so a new reason (as the real
suppliers brought) can never reach a page as a raw key or a crash."""

from __future__ import annotations

import pytest

from core.status import Reason, Status
from core.wording import OWNER_LABELS, OWNER_REASONS, owner_label, owner_vocabulary


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_an_owner_label(status: Status) -> None:
    assert OWNER_LABELS[status] and "_" not in OWNER_LABELS[status]


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_owner_words(reason: Reason) -> None:
    words = OWNER_REASONS[reason]
    assert words and "_" not in words


def test_a_pending_order_reads_as_status_and_reason() -> None:
    assert owner_label("pending", "awaiting_supplier_payment") == \
        "Pending: to pay at the supplier"
    assert "Pending: refused by the supplier" in owner_vocabulary()
