"""17TRACK's vocabulary -> DropTrack: a row for every status and sub-status (FACTS §7), the
contract's verbatim samples through the mapper, and the push signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.tracking.base import ProblemKind
from connectors.tracking.seventeen_track import mapper, units
from core.status import Reason, Status

S, R = Status, Reason

# (sub-status, DropTrack status, reason, expired, invalid number): every documented sub-status.
SUB_STATUS_ROWS = [
    ("NotFound_Other", None, None, False, False),
    ("NotFound_InvalidCode", None, None, False, True),
    ("InfoReceived", S.INFO_RECEIVED, None, False, False),
    ("InTransit_PickedUp", S.IN_TRANSIT, None, False, False),
    ("InTransit_Other", S.IN_TRANSIT, None, False, False),
    ("InTransit_Departure", S.IN_TRANSIT, None, False, False),
    ("InTransit_Arrival", S.IN_TRANSIT, None, False, False),
    ("InTransit_CustomsProcessing", S.IN_TRANSIT, None, False, False),
    ("InTransit_CustomsReleased", S.IN_TRANSIT, None, False, False),
    ("InTransit_CustomsRequiringInformation", S.EXCEPTION, R.CUSTOMS, False, False),
    ("Expired_Other", None, None, True, False),
    ("AvailableForPickup_Other", S.READY_FOR_PICKUP, None, False, False),
    ("OutForDelivery_Other", S.OUT_FOR_DELIVERY, None, False, False),
    ("DeliveryFailure_Other", S.UNDELIVERED, None, False, False),
    ("DeliveryFailure_NoBody", S.UNDELIVERED, R.RECIPIENT_UNAVAILABLE, False, False),
    ("DeliveryFailure_Security", S.UNDELIVERED, None, False, False),
    ("DeliveryFailure_Rejected", S.UNDELIVERED, R.REFUSED, False, False),
    ("DeliveryFailure_InvalidAddress", S.UNDELIVERED, R.INVALID_ADDRESS, False, False),
    ("Delivered_Other", S.DELIVERED, None, False, False),
    ("Exception_Other", S.EXCEPTION, None, False, False),
    ("Exception_Returning", S.EXCEPTION, R.RETURN_TO_SENDER, False, False),
    ("Exception_Returned", S.EXCEPTION, R.RETURN_TO_SENDER, False, False),
    ("Exception_NoBody", S.UNDELIVERED, R.RECIPIENT_UNAVAILABLE, False, False),
    ("Exception_Security", S.EXCEPTION, R.CUSTOMS, False, False),
    ("Exception_Damage", S.EXCEPTION, None, False, False),
    ("Exception_Rejected", S.UNDELIVERED, R.REFUSED, False, False),
    ("Exception_Delayed", S.EXCEPTION, R.DELAYED, False, False),
    ("Exception_Lost", S.EXCEPTION, R.LOST, False, False),
    ("Exception_Destroyed", S.EXCEPTION, R.LOST, False, False),
    ("Exception_Cancel", S.EXCEPTION, None, False, False),
]
MAIN_STATUS_ROWS = [
    ("NotFound", None), ("InfoReceived", S.INFO_RECEIVED), ("InTransit", S.IN_TRANSIT),
    ("Expired", None), ("AvailableForPickup", S.READY_FOR_PICKUP),
    ("OutForDelivery", S.OUT_FOR_DELIVERY), ("DeliveryFailure", S.UNDELIVERED),
    ("Delivered", S.DELIVERED), ("Exception", S.EXCEPTION),
]


def test_the_table_covers_every_documented_sub_status() -> None:
    assert len(SUB_STATUS_ROWS) == 30
    assert {row[0] for row in SUB_STATUS_ROWS} == set(units.SUB_STATUSES)
    assert {row[0] for row in MAIN_STATUS_ROWS} == set(units.MAIN_STATUSES)


@pytest.mark.parametrize(("sub_status", "status", "reason", "expired", "invalid"),
                         SUB_STATUS_ROWS)
def test_every_sub_status(sub_status: str, status: Status | None, reason: Reason | None,
                          expired: bool, invalid: bool) -> None:
    main = sub_status.partition("_")[0]
    found = units.unit(main, sub_status)
    assert found is not None
    assert (found.status, found.reason, found.expired, found.invalid_number) == (
        status, reason, expired, invalid)


@pytest.mark.parametrize(("main", "status"), MAIN_STATUS_ROWS)
def test_every_main_status_alone_and_with_a_future_sub_status(main: str,
                                                              status: Status | None) -> None:
    for sub in (None, f"{main}_SomethingNew"):
        found = units.unit(main, sub)
        assert found is not None and found.status == status and found.reason is None


@pytest.mark.parametrize(("main", "sub"), [("Teleported", None), ("Teleported", "X_Y"),
                                           (None, None), ("", "Bogus_Thing"), ("delivered",
                                                                                None)])
def test_unknown_values_are_unknown_never_a_guess(main: str | None, sub: str | None) -> None:
    assert units.unit(main, sub) is None


def test_carrier_keys_map_to_droptrack_carriers_and_shopify_names() -> None:
    from connectors.carriers.registry import CARRIERS

    assert units.carrier_for_key(3011) == "china_post"
    assert units.carrier_for_key("190107") == "yunexpress"
    assert units.carrier_for_key(2151) is None  # Correios: not a DropTrack carrier (yet)
    assert units.carrier_for_key("nope") is None
    assert CARRIERS[units.CARRIER_BY_KEY[3011]].shopify_company == "China Post"
    assert CARRIERS[units.CARRIER_BY_KEY[21051]].shopify_company == "USPS"
    assert units.key_for_carrier("usps") == 21051


def test_error_codes_become_problem_kinds() -> None:
    assert units.problem_kind(-18019901) is ProblemKind.ALREADY_TRACKED
    assert units.problem_kind(-18019903) is ProblemKind.CARRIER_UNKNOWN
    assert units.problem_kind(-18019908) is ProblemKind.QUOTA_EXHAUSTED
    assert units.problem_kind(-18010012) is ProblemKind.INVALID_NUMBER
    assert units.problem_kind(-1) is ProblemKind.OTHER


# --- the contract's verbatim samples --------------------------------------------------------


def _sample(contracts_dir: Path, name: str) -> bytes:
    return (contracts_dir / "trackers" / "17track" / "samples" / name).read_bytes()


def test_the_getquota_sample(contracts_dir: Path) -> None:
    envelope, problems = mapper.parse_envelope(
        json.loads(_sample(contracts_dir, "getquota_response.doc_example.json")))
    assert envelope is not None and not problems and envelope.error_code == 0
    quota, problems = mapper.parse_quota(envelope)
    assert not problems and quota is not None
    assert (quota.total, quota.used, quota.remaining, quota.daily_max) == (
        1100, 2, 1098, 10000000)


def test_the_envelope_sample(contracts_dir: Path) -> None:
    envelope, problems = mapper.parse_envelope(
        json.loads(_sample(contracts_dir, "response_envelope.doc_v1.json")))
    assert envelope is not None and not problems
    result = mapper.parse_batch(envelope)
    assert (list(result.accepted), list(result.problems)) == ([], [])


def test_the_tracking_stopped_sample(contracts_dir: Path) -> None:
    update = mapper.parse_push(_sample(contracts_dir,
                                       "webhook_TRACKING_STOPPED.doc_example.json"))
    assert update is not None
    assert (update.event, update.number, update.stopped) == (
        "TRACKING_STOPPED", "AA123456789BR", True)


def test_an_invalid_key_answer_in_either_documented_form() -> None:
    envelope, _ = mapper.parse_envelope({"code": 0, "data": {"errors": [
        {"code": -18010002, "message": "invalid key"}]}})
    assert envelope is not None and envelope.error_code == -18010002


def test_sign_is_sha256_of_raw_body_slash_key() -> None:
    import hashlib

    body = b'{"event":"TRACKING_STOPPED","data":{"number":"AA123456789BR"}}'
    expected = hashlib.sha256(body + b"/my-key").hexdigest()
    assert mapper.sign(body, "my-key") == expected
    assert mapper.verify_sign(body, expected, ["my-key"])
    assert mapper.verify_sign(body, expected.upper(), ["old", "my-key"])
    assert not mapper.verify_sign(body + b" ", expected, ["my-key"])  # raw bytes, not JSON
    assert not mapper.verify_sign(body, expected, ["other-key"])
    assert not mapper.verify_sign(body, "", ["my-key"])


def test_register_batches_are_at_most_40() -> None:
    from connectors.tracking.base import TrackRequest

    items = mapper.build_register([TrackRequest(f"RR{n:09d}CN", carrier="china_post")
                                   for n in range(40)])
    assert items[0] == {"number": "RR000000000CN", "carrier": 3011}
    with pytest.raises(ValueError, match="at most 40"):
        mapper.build_register([TrackRequest(f"RR{n:09d}CN") for n in range(41)])
