"""WooCommerce core's Order Fulfillments: where the feature is on, the write-back adds one
fulfillment per parcel too. Sandbox only: the sandbox's fulfillments are built from the
documented REST API, since the real store kit's WooCommerce 10.0.2 predates the feature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.status import Status
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.helpers.woo_backends import sandbox_backend
from tests.integration.test_woocommerce_scenarios import (
    NUMBER,
    bring_in,
    connect,
    place_order,
    ship,
    suppliers_for,
    tracking_items,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.mark.parametrize("enabled", [True, False], ids=["feature-on", "feature-off"])
def test_a_parcel_becomes_one_fulfillment_where_the_feature_is_on(
        runtime: Runtime, wc_sandbox_https: WooCommerceSandbox, enabled: bool) -> None:
    backend = sandbox_backend(wc_sandbox_https)
    wc_sandbox_https.store.fulfillments_enabled = enabled
    store_id = connect(runtime, backend)
    suppliers_for(runtime, store_id, "LAMP-1")
    order_id = place_order(backend, ("LAMP-1",))
    ours = bring_in(runtime, store_id, backend, order_id)
    ship(runtime, ours, "LAMP-1", shipped_at=runtime.clock.now() - timedelta(days=1))
    # The next status writes back again (a note): the fulfillment is not added twice.
    ship(runtime, ours, "LAMP-1", shipped_at=runtime.clock.now(), status=Status.IN_TRANSIT)
    assert len(tracking_items(backend, order_id)) == 1
    found = wc_sandbox_https.store.fulfillments.get(order_id, [])
    if not enabled:
        assert found == []
        return
    [fulfillment] = found
    meta = {m["key"]: m["value"] for m in fulfillment["meta_data"]}
    line_id = wc_sandbox_https.store.order(order_id).line_items[0].id
    assert meta["_tracking_number"] == NUMBER
    assert meta["_shipping_provider"] == "China Post"
    assert NUMBER in meta["_tracking_url"]
    assert meta["_items"] == [{"item_id": line_id, "qty": 1}]
    assert fulfillment["is_fulfilled"] is True
