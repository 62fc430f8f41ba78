"""Parsing the reference supplier's answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.suppliers.rest.mapper import parse_event, parse_order, parse_rejection
from core.status import Reason, Status


def error(code: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": "refused", "details": details}}


def test_address_rejections_distinguish_incomplete_from_invalid() -> None:
    incomplete = parse_rejection(422, error("invalid_address", fields=[
        {"field": "recipient.address1", "code": "missing_house_number", "message": "no number"}]))
    invalid = parse_rejection(422, error("invalid_address", fields=[
        {"field": "recipient.postcode", "code": "invalid_postcode", "message": "bad"}]))
    assert incomplete is not None and incomplete.kind == "incomplete_address"
    assert incomplete.details == ["recipient.address1: no number"]
    assert invalid is not None and invalid.kind == "invalid_address"


def test_other_errors_are_not_rejections() -> None:
    assert parse_rejection(422, error("validation_failed")) is None
    assert parse_rejection(409, error("idempotency_key_reused")) is None
    assert parse_rejection(422, "not json") is None


def test_event_uses_our_reading_then_the_suppliers_suggestion() -> None:
    ours = parse_event({"id": "e1", "raw_status": "EMH", "happened_at": "2026-11-10T10:00:00Z",
                        "description": "Unsuccessful delivery: incorrect address",
                        "suggested_status": "in_transit"})
    assert ours is not None
    assert (ours.status, ours.reason) == (Status.UNDELIVERED, Reason.INVALID_ADDRESS)
    assert ours.happened_at == datetime(2026, 11, 10, 10, tzinfo=UTC)
    fallback = parse_event({"id": "e2", "raw_status": "ZZ9", "description": "Mystery",
                            "happened_at": "2026-11-10T10:00:00Z",
                            "suggested_status": "exception", "suggested_reason": "customs"})
    assert fallback is not None
    assert (fallback.status, fallback.reason) == (Status.EXCEPTION, Reason.CUSTOMS)
    unknown = parse_event({"id": "e3", "raw_status": "ZZ9", "description": "Mystery",
                           "happened_at": "2026-11-10T10:00:00Z", "suggested_status": "odd"})
    assert unknown is None
    assert parse_event({"id": "e4", "raw_status": "EMI"}) is None  # no time


def test_order_with_parcels() -> None:
    view = parse_order({"id": "SO1", "status": "shipped", "parcels": [
        {"id": "SO1-P1", "tracking_number": "LX123456785CN",
         "carrier": {"code": "china-post", "name": "China Post"},
         "tracking_url": "https://t.example/LX123456785CN",
         "events": [{"id": "e", "raw_status": "EMA", "happened_at": "2026-11-04T03:00:00Z"}]},
        {"id": "SO1-P2"}]})
    assert view.status == "shipped"
    [parcel] = view.parcels
    assert (parcel.ref, parcel.carrier) == ("SO1-P1", "China Post")
    assert parcel.events[0].status is Status.IN_TRANSIT


@pytest.mark.parametrize(("lines", "expected"), [
    ([{"supplier_sku": "A", "shipped": True}, {"supplier_sku": "B", "shipped": True}], True),
    ([{"supplier_sku": "A", "shipped": True}, {"supplier_sku": "B", "shipped": False}], False),
    ([{"supplier_sku": "A", "shipped": False}], False),
    ([{"supplier_sku": "A"}], None),  # no per-line report
    ([{"supplier_sku": "A", "shipped": True}, {"supplier_sku": "B", "shipped": "no"}], None),
    ([], None),
    (None, None),
    ("garbled", None),
])
def test_every_line_shipped_as_the_supplier_reports_it(lines: Any, expected: bool | None) -> None:
    """ "shipped" is the order's status after its first parcel: only `lines[].shipped` says
    whether the rest has left too."""
    view = parse_order({"id": "SO1", "status": "shipped", "lines": lines})
    assert view.all_lines_shipped is expected
