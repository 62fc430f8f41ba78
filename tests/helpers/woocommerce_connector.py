"""Fixtures for tests of DropTrack's WooCommerce connector against the sandbox.

`wc_site` runs each test twice: over plain HTTP (OAuth 1.0a) and over HTTPS (basic auth,
trusted through the sandbox's throwaway CA). Import the fixture into a test module explicitly.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.store_base import StoreAccess
from connectors.woocommerce.connector import WooCommerceConnector, build
from sandboxes.woocommerce.state import ApiKey
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox


@pytest.fixture(params=["oauth1-http", "basic-https"])
def wc_site(request: pytest.FixtureRequest) -> WooCommerceSandbox:
    name = "wc_sandbox" if request.param == "oauth1-http" else "wc_sandbox_https"
    sandbox: WooCommerceSandbox = request.getfixturevalue(name)
    return sandbox


def store_settings(sandbox: WooCommerceSandbox, **woocommerce: Any) -> dict[str, Any]:
    """A store's settings that trust the sandbox's CA (over HTTPS)."""
    section: dict[str, Any] = dict(woocommerce)
    if sandbox.ca_path:
        section.setdefault("ca_bundle", sandbox.ca_path)
    return {"woocommerce": section}


def access_for(sandbox: WooCommerceSandbox, key: ApiKey | None = None, *, store_id: int = 1,
               allow_loopback_http: bool = True, **woocommerce: Any) -> StoreAccess:
    key = key or sandbox.store.create_key()
    return StoreAccess(
        store_id=store_id, platform="woocommerce", domain=sandbox.url,
        credentials={"consumer_key": key.consumer_key,
                     "consumer_secret": key.consumer_secret},
        settings=store_settings(sandbox, **woocommerce),
        allow_loopback_http=allow_loopback_http, save_credentials=lambda _: None)


def connector_for(sandbox: WooCommerceSandbox, key: ApiKey | None = None,
                  **woocommerce: Any) -> WooCommerceConnector:
    return build(access_for(sandbox, key, **woocommerce))
