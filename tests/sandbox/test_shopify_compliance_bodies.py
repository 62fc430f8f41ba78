"""The Shopify sandbox's compliance bodies have the shape of Shopify's own samples.

Real artefact: ../shared/contracts/shopify/webhooks/docs_samples_2026-07/ (customers__data_request,
customers__redact, shop__redact), the bodies Shopify's documentation publishes for these topics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandboxes.shopify.webhooks import compliance_payload

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "contracts" / "shopify" / "webhooks"
           / "docs_samples_2026-07")


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.parametrize("topic", ["customers/data_request", "customers/redact", "shop/redact"])
def test_compliance_bodies_have_shopifys_shape(topic: str) -> None:
    sample = json.loads((SAMPLES / f"{topic.replace('/', '__')}.json").read_text())
    body = sample.get("body", sample)
    ours = compliance_payload(topic, 954889, "snowdevil.myshopify.com")
    assert sorted(ours) == sorted(body)
    for key in ("customer", "data_request"):
        if key in body:
            assert set(_shape(ours[key])) <= set(_shape(body[key])), key
