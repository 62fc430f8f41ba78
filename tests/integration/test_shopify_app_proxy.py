"""The app proxy (/apps/droptrack): only Shopify-signed, fresh requests get the tracking
timeline, rendered as Liquid inside the shop's theme; any miss looks the same."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from core.domain import CarrierEvent
from core.status import Status
from integration.base.config import Settings
from sandboxes.shopify.signing import app_proxy_signature
from tests.conftest import make_settings
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

SECRET = "shpss_proxy_secret"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True},
                         shopify={"client_id": "proxy-app", "client_secret": SECRET})


def proxy_path(link: ShopifyLink, secret: str = SECRET, **query: str) -> str:
    params = [*query.items(), ("shop", link.seeded.domain), ("logged_in_customer_id", ""),
              ("path_prefix", "/apps/droptrack"),
              ("timestamp", str(int(link.clock.now().timestamp())))]
    params.append(("signature", app_proxy_signature(params, secret)))
    return "/apps/droptrack?" + urlencode(params)


def test_a_signed_lookup_renders_the_timeline_as_liquid(client: FlaskClient,
                                                        shopify_link: ShopifyLink) -> None:
    order = shopify_link.seeded.sandbox.state.place_order(shopify_link.seeded.domain,
                                                          email="ada@example.com")
    shopify_link.import_sandbox_order(order)
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now()))
    answer = client.get(proxy_path(shopify_link, order=order.name.lstrip("#"),
                                   email="ADA@example.com"))
    assert answer.status_code == 200
    assert answer.content_type.startswith("application/liquid")
    assert "LX123456785CN" in answer.text and "In transit" in answer.text
    miss = client.get(proxy_path(shopify_link, order=order.name, email="eve@example.com"))
    assert miss.status_code == 404 and "could not find" in miss.text
    form = client.get(proxy_path(shopify_link))
    assert form.status_code == 200 and 'name="order"' in form.text


def test_a_bad_or_stale_signature_is_refused(client: FlaskClient,
                                             shopify_link: ShopifyLink) -> None:
    assert client.get(proxy_path(shopify_link, secret="wrong")).status_code == 401
    assert client.get(proxy_path(shopify_link).replace("signature=", "x=")).status_code == 401
    tampered = proxy_path(shopify_link, order="1001").replace("order=1001", "order=1002")
    assert client.get(tampered).status_code == 401
    stale = proxy_path(shopify_link)
    shopify_link.clock.advance(timedelta(minutes=5))
    assert client.get(stale).status_code == 401
