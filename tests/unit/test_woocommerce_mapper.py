"""The WooCommerce mapper's write-back parsers, fed stored answers (documented contracts)."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.woocommerce import mapper, units
from connectors.woocommerce.settings import StoreSettings


def test_batch_answer_from_the_docs(contracts_dir: Path) -> None:
    example = json.loads((contracts_dir / "woocommerce" / "rest_v3_docs_examples" /
                          "orders__batch-update-orders.json").read_text())
    done, problems = mapper.parse_batch_update(example)
    assert done == {str(order["id"]): order["status"] for order in example["update"]}
    assert problems == []


def test_a_failed_batch_item_is_a_problem_not_an_exception() -> None:
    done, problems = mapper.parse_batch_update({"update": [
        {"id": 5, "status": "completed"},
        {"id": 6, "error": {"code": "woocommerce_rest_shop_order_invalid_id",
                            "message": "Invalid ID.", "data": {"status": 400}}},
        "garbage"]})
    assert done == {"5": "completed"}
    assert problems == ["order 6: Invalid ID. (woocommerce_rest_shop_order_invalid_id)",
                        "orders/batch: an item is not an object"]
    assert mapper.parse_batch_update([])[1] == ["orders/batch: the answer has no update list"]


def test_provider_names_are_matched_as_the_plugin_spells_them() -> None:
    names = mapper.parse_provider_names({"Global": {"Aramex": "u"},
                                         "United States": {"USPS": "u"}, "bad": "x"})
    assert names == ["Aramex", "USPS"]
    assert mapper.known_provider(names, "usps") == "USPS"
    assert mapper.known_provider(names, "YunExpress", None) is None


def test_tracking_item_request_is_custom_when_the_plugin_lacks_the_carrier() -> None:
    assert mapper.build_tracking_item("N1", "YunExpress", "https://t/N1", None, None) == {
        "tracking_number": "N1", "custom_tracking_provider": "YunExpress",
        "custom_tracking_link": "https://t/N1"}


def test_status_moves_only_forward() -> None:
    assert units.may_move("processing", "completed")
    assert units.may_move("partial-shipped", "completed")
    assert not units.may_move("completed", "processing")
    assert not units.may_move("cancelled", "completed")
    assert not units.may_move("processing", None)


def test_bad_store_settings_are_named() -> None:
    try:
        StoreSettings.from_store({"woocommerce": {"complete_on": "paid"}})
    except ValueError as bad:
        assert "complete_on" in str(bad)
    else:
        raise AssertionError("accepted a bad complete_on")
    assert StoreSettings.from_store({}).status_updates == "batched"
