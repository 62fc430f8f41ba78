"""Storefront and key-request pages in a real browser: the customer's view-order page shows
tracking and "Order updates"; an app obtains keys through /wc-auth/v1."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import Page

from tests.helpers.sandbox_woocommerce import WebhookReceiver, WooCommerceSandbox


def test_view_order_page_shows_tracking_and_customer_notes(wc_sandbox: WooCommerceSandbox,
                                                           page: Page) -> None:
    store = wc_sandbox.store
    store.set_tracking_mode("shipment_tracking")
    order = store.place_order()
    store.add_tracking_item(order.id, tracking_number="9400111899223344556677",
                            tracking_provider="usps",
                            date_shipped=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    store.add_order_note(order.id, "Your parcel is on its way.", customer_note=True)
    store.add_order_note(order.id, "Supplier cost 4.20 USD", customer_note=False)

    page.goto(f"{wc_sandbox.url}/my-account/view-order/{order.id}/?key={order.order_key}")

    assert page.locator("mark.order-status").inner_text() == "Processing"
    row = page.locator("tr.tracking")
    assert row.locator(".tracking-provider").inner_text() == "USPS"
    link = row.locator(".tracking-number a")
    assert link.inner_text() == "9400111899223344556677"
    assert "9400111899223344556677" in (link.get_attribute("href") or "")
    assert row.locator(".date-shipped").inner_text() == "November 20, 2026"
    updates = page.locator(".woocommerce-OrderUpdates li")
    assert updates.count() == 1
    assert "Your parcel is on its way." in updates.first.inner_text()
    assert "Supplier cost" not in page.content()


def test_view_order_with_a_wrong_key_is_an_invalid_order(wc_sandbox: WooCommerceSandbox,
                                                         page: Page) -> None:
    order = wc_sandbox.store.place_order()
    page.goto(f"{wc_sandbox.url}/my-account/view-order/{order.id}/?key=wc_order_guess")
    assert "Invalid order." in page.locator(".woocommerce-error").inner_text()


def _authorize_url(sandbox: WooCommerceSandbox, receiver: WebhookReceiver,
                   callback: str = "", back_to: WebhookReceiver | None = None) -> str:
    """The key request: keys to `receiver` (https), the browser back to `back_to` (any)."""
    return f"{sandbox.url}/wc-auth/v1/authorize?" + urlencode({
        "app_name": "DropTrack", "scope": "read_write", "user_id": "bind-8f2a",
        "return_url": f"{(back_to or receiver).url}/return",
        "callback_url": callback or f"{receiver.url}/callback"})


def test_approving_the_key_request_posts_working_keys(wc_sandbox: WooCommerceSandbox,
                                                      wc_https_receiver: WebhookReceiver,
                                                      wc_receiver: WebhookReceiver,
                                                      page: Page) -> None:
    page.goto(_authorize_url(wc_sandbox, wc_https_receiver, back_to=wc_receiver))
    assert "DropTrack" in page.locator("main").inner_text()
    assert page.locator(".wc-auth-scope").inner_text() == "Read/Write"

    page.click("a.wc-auth-approve")
    page.wait_for_url(f"{wc_receiver.url}/return*")

    returned = parse_qs(urlsplit(page.url).query)
    assert returned == {"success": ["1"], "user_id": ["bind-8f2a"]}
    [callback] = wc_https_receiver.posts("/callback")
    keys = json.loads(callback.body)
    assert keys["user_id"] == "bind-8f2a"
    assert keys["key_permissions"] == "read_write"
    assert keys["consumer_key"].startswith("ck_") and keys["consumer_secret"].startswith("cs_")
    key = wc_sandbox.store.find_key(keys["consumer_key"])
    assert key is not None and key.key_id == keys["key_id"]
    assert wc_sandbox.api(key).get("orders").status_code == 200


def test_deny_returns_success_0(wc_sandbox: WooCommerceSandbox,
                                wc_https_receiver: WebhookReceiver,
                                wc_receiver: WebhookReceiver, page: Page) -> None:
    page.goto(_authorize_url(wc_sandbox, wc_https_receiver, back_to=wc_receiver))
    page.click("a.wc-auth-deny")
    page.wait_for_url(f"{wc_receiver.url}/return*")
    assert parse_qs(urlsplit(page.url).query)["success"] == ["0"]
    assert wc_https_receiver.posts("/callback") == []
    assert wc_sandbox.store.keys == {}


def test_keys_are_deleted_unless_the_callback_answers_exactly_200(
        wc_sandbox: WooCommerceSandbox, wc_https_receiver: WebhookReceiver) -> None:
    wc_https_receiver.status = 201
    consent = requests.get(_authorize_url(wc_sandbox, wc_https_receiver), timeout=10)
    match = re.search(r'href="([^"]+)" class="button wc-auth-approve"', consent.text)
    assert match is not None
    granted = html.unescape(match.group(1))
    response = requests.get(granted, timeout=10, allow_redirects=False)
    assert response.status_code == 401
    assert "unable to send the consumer data" in response.text
    assert len(wc_https_receiver.posts("/callback")) == 1
    assert wc_sandbox.store.keys == {}
    replay = requests.get(granted, timeout=10, allow_redirects=False)
    assert "Invalid nonce verification" in replay.text


@pytest.mark.parametrize("callback", [
    "http://example.com/callback",
    "http://127.0.0.1:8080/woocommerce/connect/callback",  # no exception for loopback
    "http://localhost/callback",
    "ftp://example.com/callback",
    "HTTP://example.com/callback",
    "http%3A%2F%2Fexample.com%2Fcallback",  # decoded once more, then still http
])
def test_the_callback_url_must_be_https_as_woocommerce_checks_it(
        wc_sandbox: WooCommerceSandbox, wc_https_receiver: WebhookReceiver,
        callback: str) -> None:
    """WC_Auth::make_validation() on every route: 401 "Access denied", nothing created."""
    for route in ("login", "authorize", "access_granted"):
        url = _authorize_url(wc_sandbox, wc_https_receiver, callback=callback).replace(
            "/authorize?", f"/{route}?")
        insecure = requests.get(url, timeout=10, allow_redirects=False)
        assert insecure.status_code == 401, route
        assert "Error: The callback_url needs to be over SSL." in insecure.text
    assert wc_sandbox.store.keys == {}


@pytest.mark.parametrize("callback", ["HTTPS://127.0.0.1:{port}/callback",
                                      "127.0.0.1:{port}/callback"])  # https:// put in front
def test_an_https_callback_is_taken_as_woocommerce_formats_it(
        wc_sandbox: WooCommerceSandbox, wc_https_receiver: WebhookReceiver,
        callback: str) -> None:
    port = urlsplit(wc_https_receiver.url).port
    consent = requests.get(_authorize_url(wc_sandbox, wc_https_receiver,
                                          callback=callback.format(port=port)), timeout=10)
    assert consent.status_code == 200
    match = re.search(r'href="([^"]+)" class="button wc-auth-approve"', consent.text)
    assert match is not None
    done = requests.get(html.unescape(match.group(1)), timeout=30, allow_redirects=False)
    assert done.status_code == 302
    assert len(wc_https_receiver.posts("/callback")) == 1


def test_bad_parameters_are_refused(wc_sandbox: WooCommerceSandbox,
                                    wc_https_receiver: WebhookReceiver) -> None:
    bad_scope = requests.get(
        _authorize_url(wc_sandbox, wc_https_receiver).replace("read_write", "admin"),
        timeout=10)
    assert bad_scope.status_code == 401 and "Invalid scope admin" in bad_scope.text
