"""Reference supplier, parcel life: each scenario's events appear in order, never early."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from tests.helpers.sandbox_supplier import SupplierSandbox, sample_order


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _create(sandbox: SupplierSandbox, scenario: str, order_number: str = "#2001") -> str:
    sandbox.state.seed_scenario(scenario, order_number=order_number)
    response = sandbox.create_order(sample_order(order_number))
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


def _replay(sandbox: SupplierSandbox, order_id: str, days: int = 45) -> list[dict[str, Any]]:
    """Advance the clock in 6 h steps, checking nothing is ever shown before its time and
    that what was shown stays; returns the first parcel's final events."""
    seen: list[dict[str, Any]] = []
    for _ in range(days * 4):
        sandbox.clock.advance(timedelta(hours=6))
        order = sandbox.get_order(order_id)
        now = sandbox.clock.now()
        events = order["parcels"][0]["events"] if order["parcels"] else []
        assert all(_parse(e["happened_at"]) <= now for e in events)
        assert events[: len(seen)] == seen
        times = [_parse(e["happened_at"]) for e in events]
        assert times == sorted(times)
        seen = events
    return seen


def _statuses(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["suggested_status"], e["suggested_reason"]) for e in events]


def test_normal_parcel_goes_from_info_received_to_delivered_in_7_to_15_days(
        supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "normal")
    events = _replay(supplier_sandbox, order_id)
    statuses = [s for s, _ in _statuses(events)]
    assert statuses[0] == "info_received"
    assert statuses[-2:] == ["out_for_delivery", "delivered"]
    assert set(statuses[1:-2]) == {"in_transit"}
    assert len(statuses) >= 8  # hub scans on the way
    transit = _parse(events[-1]["happened_at"]) - _parse(events[0]["happened_at"])
    assert timedelta(days=7) - timedelta(hours=6) <= transit <= timedelta(days=15)
    order = supplier_sandbox.get_order(order_id)
    assert order["status"] == "shipped"
    parcel = order["parcels"][0]
    assert parcel["tracking_number"] in parcel["tracking_url"]
    assert {e["tracking_number"] for e in events} == {parcel["tracking_number"]}
    assert all(e["raw_status"] and e["description"] and e["location"] for e in events)


def test_nothing_is_visible_before_the_parcel_ships(supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "normal")
    order = supplier_sandbox.state.orders[order_id]
    shipped_at = order.plan.parcels[0].shipped_at
    number = order.plan.parcels[0].legs[0].tracking_number
    supplier_sandbox.clock.set(shipped_at - timedelta(seconds=1))
    assert supplier_sandbox.get_order(order_id)["parcels"] == []
    assert supplier_sandbox.track(number)[0]["found"] is False
    supplier_sandbox.clock.set(shipped_at)
    parcel = supplier_sandbox.get_order(order_id)["parcels"][0]
    assert [e["suggested_status"] for e in parcel["events"]] == ["info_received"]
    assert supplier_sandbox.track(number)[0]["found"] is True


@pytest.mark.parametrize(("scenario", "expected_tail"), [
    ("ready_for_pickup", [("ready_for_pickup", None), ("delivered", None)]),
    ("undelivered_recipient_unavailable",
     [("out_for_delivery", None), ("undelivered", "recipient_unavailable")]),
    ("undelivered_invalid_address",
     [("out_for_delivery", None), ("undelivered", "invalid_address"),
      ("exception", "return_to_sender")]),
    ("undelivered_refused",
     [("out_for_delivery", None), ("undelivered", "refused"), ("exception", "return_to_sender")]),
    ("lost", [("in_transit", None), ("exception", "lost")]),
])
def test_scenario_endings(supplier_sandbox: SupplierSandbox, scenario: str,
                          expected_tail: list[tuple[str, str | None]]) -> None:
    events = _replay(supplier_sandbox, _create(supplier_sandbox, scenario))
    assert _statuses(events)[-len(expected_tail):] == expected_tail
    assert ("delivered", None) not in _statuses(events)[:-1]


@pytest.mark.parametrize(("scenario", "reason"), [("delayed", "delayed"),
                                                  ("customs", "customs")])
def test_delays_and_customs_holds_resolve_into_a_delivery(
        supplier_sandbox: SupplierSandbox, scenario: str, reason: str) -> None:
    events = _replay(supplier_sandbox, _create(supplier_sandbox, scenario))
    statuses = _statuses(events)
    hold = statuses.index(("exception", reason))
    assert ("in_transit", None) in statuses[hold + 1:]
    assert statuses[-1] == ("delivered", None)


def test_stuck_in_transit_stops_after_arrival(supplier_sandbox: SupplierSandbox) -> None:
    events = _replay(supplier_sandbox, _create(supplier_sandbox, "stuck_in_transit"), days=60)
    assert _statuses(events)[-1] == ("in_transit", None)
    last = _parse(events[-1]["happened_at"])
    assert supplier_sandbox.clock.now() - last > timedelta(days=30)


def test_no_tracking_order_never_ships(supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "no_tracking")
    supplier_sandbox.clock.advance(timedelta(days=60))
    order = supplier_sandbox.get_order(order_id)
    assert (order["status"], order["parcels"]) == ("processing", [])


def test_last_mile_change_announces_a_new_number(supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "last_mile_change")
    plan = supplier_sandbox.state.orders[order_id].plan.parcels[0]
    first, last_mile = (leg.tracking_number for leg in plan.legs)
    handover = next(e for e in plan.events if e.new_tracking_number)

    supplier_sandbox.clock.set(handover.happened_at - timedelta(seconds=1))
    before = supplier_sandbox.track(first, last_mile)
    assert before[0]["replaced_by"] is None
    assert before[1]["found"] is False

    supplier_sandbox.clock.set(handover.happened_at)
    old, new = supplier_sandbox.track(first, last_mile)
    announcing = old["events"][-1]
    assert announcing["new_tracking"]["tracking_number"] == last_mile
    assert last_mile in announcing["description"]
    assert old["replaced_by"]["tracking_number"] == last_mile
    assert new["found"] is True and new["replaces"]["tracking_number"] == first

    supplier_sandbox.clock.advance(timedelta(days=30))
    old, new = supplier_sandbox.track(first, last_mile)
    assert old["carrier"]["code"] in ("yunexpress", "4px", "cainiao")
    assert new["carrier"]["code"] == "usps"  # the sample recipient is in the US
    assert new["latest_event"]["suggested_status"] == "delivered"
    assert old["latest_event"]["id"] == announcing["id"]  # the old number goes quiet
    parcel = supplier_sandbox.get_order(order_id)["parcels"][0]
    assert parcel["tracking_number"] == last_mile
    assert [h["tracking_number"] for h in parcel["tracking_history"]] == [first, last_mile]


def test_split_shipment_makes_two_parcels_shipping_on_different_days(
        supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "split_shipment")
    supplier_sandbox.clock.advance(timedelta(days=30))
    order = supplier_sandbox.get_order(order_id)
    parcels = order["parcels"]
    assert len(parcels) == 2
    assert [line["supplier_sku"] for p in parcels for line in p["lines"]] == [
        "MUG-CERAMIC-11OZ", "TEE-BLACK-M"]
    assert parcels[0]["tracking_number"] != parcels[1]["tracking_number"]
    assert parcels[0]["shipped_at"] < parcels[1]["shipped_at"]
    assert all(line["shipped"] for line in order["lines"])


def test_scenario_marker_in_the_recipient_chooses_the_scenario(
        supplier_sandbox: SupplierSandbox) -> None:
    response = supplier_sandbox.create_order(sample_order(name="Jane Doe [sandbox:lost]"))
    assert response.status_code == 201
    assert supplier_sandbox.state.orders[response.json()["id"]].plan.scenario == "lost"
    bad = supplier_sandbox.create_order(sample_order("#9", name="Jane [sandbox:teleported]"))
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["fields"][0]["code"] == "unknown_scenario"


def test_default_mix_is_seeded_and_varied(supplier_sandbox: SupplierSandbox) -> None:
    def run() -> list[tuple[str, str]]:
        supplier_sandbox.state.reset()
        for n in range(30):
            assert supplier_sandbox.create_order(sample_order(f"#{n}")).status_code == 201
        return [(o.plan.scenario.value, o.plan.parcels[0].legs[0].tracking_number
                 if o.plan.parcels else "") for o in supplier_sandbox.state.orders.values()]

    first = run()
    assert run() == first  # same seed, same story
    assert len({scenario for scenario, _ in first}) >= 4


def test_batch_tracking_reports_unknown_numbers_per_item(
        supplier_sandbox: SupplierSandbox) -> None:
    order_id = _create(supplier_sandbox, "normal")
    supplier_sandbox.clock.advance(timedelta(days=20))
    number = supplier_sandbox.get_order(order_id)["parcels"][0]["tracking_number"]
    spaced = " ".join([number[:4], number[4:].lower()])
    results = supplier_sandbox.track(spaced, "LX000000000CN", number)
    assert [r["tracking_number"] for r in results] == [number, "LX000000000CN"]
    found, unknown = results
    assert found["found"] is True and found["order_id"] == order_id
    assert found["latest_event"] == found["events"][-1]
    assert found["latest_event"]["suggested_status"] == "delivered"
    assert unknown == {"tracking_number": "LX000000000CN", "found": False,
                       "error": {"code": "tracking_number_not_found",
                                 "message": "no parcel with this tracking number for your "
                                            "account"}}


def test_batch_tracking_takes_at_most_100_numbers(supplier_sandbox: SupplierSandbox) -> None:
    url = f"{supplier_sandbox.url}/v1/tracking/batch"
    numbers = [f"LX{n:09d}CN" for n in range(101)]
    response = requests.post(url, json={"tracking_numbers": numbers},
                             headers=supplier_sandbox.headers(), timeout=5)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["code"] == "too_many"
    assert len(supplier_sandbox.track(*numbers[:100])) == 100
    empty = requests.post(url, json={"tracking_numbers": []}, headers=supplier_sandbox.headers(),
                          timeout=5)
    assert empty.status_code == 422
