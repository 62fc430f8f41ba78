"""AfterShip's tags and subtags and DHL's status codes, each a row: DropTrack's status and
reason (and the alert flags). Unknown words are unknown, never a guess."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from connectors.tracking.aftership import mapper as aftership_mapper
from connectors.tracking.aftership import units as aftership
from connectors.tracking.base import ProblemKind
from connectors.tracking.dhl import units as dhl
from core.status import Reason, Status

S, R = Status, Reason
TAGS = {
    "Pending": (None, None), "InfoReceived": (S.INFO_RECEIVED, None),
    "InTransit": (S.IN_TRANSIT, None), "OutForDelivery": (S.OUT_FOR_DELIVERY, None),
    "AttemptFail": (S.UNDELIVERED, None), "Delivered": (S.DELIVERED, None),
    "AvailableForPickup": (S.READY_FOR_PICKUP, None), "Exception": (S.EXCEPTION, None),
    "Expired": (None, None),
}
SUBTAGS = {
    **{f"Pending_00{n}": (None, None) for n in range(1, 7)},
    "InfoReceived_001": (S.INFO_RECEIVED, None),
    **{f"InTransit_00{n}": (S.IN_TRANSIT, None) for n in range(1, 10)},
    "OutForDelivery_001": (S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_003": (S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_004": (S.OUT_FOR_DELIVERY, None),
    "AttemptFail_001": (S.UNDELIVERED, None),
    "AttemptFail_002": (S.UNDELIVERED, R.RECIPIENT_UNAVAILABLE),
    "AttemptFail_003": (S.UNDELIVERED, R.RECIPIENT_UNAVAILABLE),
    **{f"Delivered_00{n}": (S.DELIVERED, None) for n in range(1, 6)},
    "AvailableForPickup_001": (S.READY_FOR_PICKUP, None),
    "Exception_001": (S.EXCEPTION, None),
    "Exception_002": (S.UNDELIVERED, R.INVALID_ADDRESS),
    "Exception_003": (S.UNDELIVERED, R.REFUSED),
    "Exception_004": (S.EXCEPTION, R.CUSTOMS),
    "Exception_005": (S.EXCEPTION, R.DELAYED),
    "Exception_006": (S.EXCEPTION, R.CUSTOMS),
    "Exception_007": (S.EXCEPTION, None),
    "Exception_008": (S.EXCEPTION, None),
    "Exception_009": (S.EXCEPTION, None),
    "Exception_010": (S.EXCEPTION, R.RETURN_TO_SENDER),
    "Exception_011": (S.EXCEPTION, R.RETURN_TO_SENDER),
    "Exception_012": (S.EXCEPTION, None),
    "Exception_013": (S.EXCEPTION, R.LOST),
    "Exception_014": (S.EXCEPTION, None),
    "Exception_015": (S.EXCEPTION, None),
    "Exception_016": (S.EXCEPTION, R.DELAYED),
    "Exception_017": (S.EXCEPTION, R.DELAYED),
    "Exception_018": (S.EXCEPTION, R.CUSTOMS),
    "Expired_001": (None, None),
}


@pytest.mark.parametrize(("tag", "expected"), TAGS.items())
def test_every_aftership_tag(tag: str, expected: tuple[Status | None, Reason | None]) -> None:
    found = aftership.unit(tag, None)
    assert found is not None
    assert (found.status, found.reason) == expected
    assert found.expired is (tag == "Expired")  # expired: a stuck alert, never delivered


@pytest.mark.parametrize(("subtag", "expected"), SUBTAGS.items())
def test_every_aftership_subtag(subtag: str,
                                expected: tuple[Status | None, Reason | None]) -> None:
    tag = subtag.rpartition("_")[0]
    for pair in ((tag, subtag), (None, subtag)):
        found = aftership.unit(*pair)
        assert found is not None
        assert (found.status, found.reason) == expected


def test_the_tables_cover_every_row_and_nothing_else() -> None:
    assert set(aftership.TAGS) == set(TAGS)
    assert set(aftership.SUBTAGS) == set(SUBTAGS)


@pytest.mark.parametrize(("tag", "subtag", "expected"), [
    ("Exception", "Exception_099", S.EXCEPTION),  # a new subtag of a known tag: its tag
    (None, "Delivered_099", S.DELIVERED),
    ("Teleported", None, None), (None, "Teleported_001", None), ("", "", None),
    ("Teleported", "Teleported_001", None),
])
def test_unknown_aftership_words_are_unknown(tag: str | None, subtag: str | None,
                                             expected: Status | None) -> None:
    found = aftership.unit(tag, subtag)
    assert (found.status if found else None) == expected
    if expected is None:
        assert found is None


@pytest.mark.parametrize(("code", "kind"), [
    (4003, ProblemKind.ALREADY_TRACKED), (4004, ProblemKind.NOT_TRACKED),
    (4005, ProblemKind.INVALID_NUMBER), (4007, ProblemKind.INVALID_NUMBER),
    (4017, ProblemKind.INVALID_NUMBER), (4010, ProblemKind.CARRIER_UNKNOWN),
    (4012, ProblemKind.CARRIER_UNKNOWN), (4013, ProblemKind.NOT_ALLOWED),
    (4016, ProblemKind.NOT_ALLOWED), (4001, ProblemKind.OTHER), (9999, ProblemKind.OTHER),
])
def test_aftership_meta_codes(code: int, kind: ProblemKind) -> None:
    assert aftership.problem_kind(code) is kind


def test_the_aftership_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body, secret = b'{"event":"tracking_update"}', "s3cret"
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert aftership_mapper.signature(body, secret) == expected
    assert aftership_mapper.verify_signature(body, expected, ["old", secret])
    assert not aftership_mapper.verify_signature(body + b" ", expected, [secret])
    assert not aftership_mapper.verify_signature(body, expected, ["", "other"])
    assert not aftership_mapper.verify_signature(body, "", [secret])


DHL_CODES = {
    "pre-transit": S.INFO_RECEIVED, "transit": S.IN_TRANSIT, "delivered": S.DELIVERED,
    "failure": S.UNDELIVERED, "unknown": None,
}


@pytest.mark.parametrize(("code", "expected"), DHL_CODES.items())
def test_every_dhl_status_code(code: str, expected: Status | None) -> None:
    found = dhl.unit(code)
    assert found is not None and found.status == expected and found.reason is None
    assert dhl.unit(code.upper()) == found


def test_dhl_tables_and_unknown_codes() -> None:
    assert set(dhl.STATUS_CODES) == set(DHL_CODES)
    assert dhl.unit("out-for-delivery") is None and dhl.unit("") is None


@pytest.mark.parametrize(("now", "reset"), [
    (datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)),
    (datetime(2026, 12, 2, 0, 0, 0, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)),
    (datetime(2026, 12, 31, 12, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_dhl_budget_resets_at_midnight_gmt(now: datetime, reset: datetime) -> None:
    assert dhl.next_reset(now) == reset


@pytest.mark.parametrize(("status", "kind"), [
    (404, ProblemKind.NOT_TRACKED), (400, ProblemKind.INVALID_NUMBER),
    (418, ProblemKind.OTHER)])
def test_dhl_problem_statuses(status: int, kind: ProblemKind) -> None:
    assert dhl.problem_kind(status) is kind
