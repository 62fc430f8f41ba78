"""docs/api-costs.md states what the sandbox measures: one parcel's life in Shopify calls and
points, and what a replaced tracking number costs (fulfillmentTrackingInfoUpdate, 50 points
live). The numbers are measured here and must be the ones the document gives."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from core.domain import CarrierEvent
from core.status import Status
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-costs.md"
DAY = timedelta(days=1)


def _documented(label: str) -> tuple[int, int]:
    match = re.search(rf"<!-- {label} -->\s*\*\*(\d+) calls?, (\d+) points\*\*", DOC.read_text())
    assert match, f"docs/api-costs.md has no measured figure for {label}"
    return int(match.group(1)), int(match.group(2))


def test_the_documented_costs_are_the_measured_ones(shopify_link: ShopifyLink) -> None:
    seeded = shopify_link.seeded
    order = seeded.sandbox.state.place_order(seeded.domain)
    shopify_link.import_sandbox_order(order)
    usage = shopify_link.sandbox_usage
    start = shopify_link.clock.now()
    for key, status, day in (("e1", Status.IN_TRANSIT, 2), ("e2", Status.OUT_FOR_DELIVERY, 9),
                             ("e3", Status.DELIVERED, 10)):
        shopify_link.ship(CarrierEvent(key, status, start + day * DAY))
        run_jobs(shopify_link.runtime, "store.writeback")
    assert (usage.calls, usage.points) == _documented("parcel-life")

    calls, points = usage.calls, usage.points
    shopify_link.ship(CarrierEvent("e4", Status.DELIVERED, start + 10 * DAY),
                      number="LX999999995CN")
    counted = shopify_link.limiter.usage(seeded.domain).points
    run_jobs(shopify_link.runtime, "store.writeback")
    assert (usage.calls - calls, usage.points - points) == _documented("replaced-number")
    # DropTrack's budget counts the replacement at its real cost too (50, not a mutation's
    # 10), and its picture of the bucket is the one Shopify answered.
    assert shopify_link.limiter.usage(seeded.domain).points - counted == usage.points - points
    bucket = seeded.sandbox.bucket(seeded.domain, seeded.app.client_id).status()
    assert int(shopify_link.limiter._buckets[seeded.domain].available) == \
        bucket.currently_available
