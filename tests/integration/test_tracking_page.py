"""The customer's tracking page: the right order + e-mail shows the parcel; any mismatch gets
one and the same answer; lookups are rate-limited; forms need their CSRF token."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from core.domain import Payment
from core.status import Reason, Status
from integration.engine.tracking_view import tracking_view
from integration.kernel.runtime import Runtime
from tests.integration.test_admin_data import DAY, T0, Shop, build_shop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient) -> str:
    match = CSRF.search(client.get("/track").get_data(as_text=True))
    assert match is not None
    return match.group(1)


def track(client: FlaskClient, order: str, email: str, token: str | None = None) -> tuple[int, str]:
    response = client.post("/track", data={"order": order, "email": email,
                                           "csrf_token": token or csrf(client)})
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


@pytest.fixture
def shipped(shop: Shop) -> int:
    order_id = shop.place("#1001", email="Jane.Doe@Example.com")
    shop.ship(order_id, "LX123456785CN",
              ("accepted", Status.INFO_RECEIVED, 1, None, "Shenzhen"),
              ("departed", Status.IN_TRANSIT, 2, None, "Guangzhou hub"))
    return order_id


def test_right_number_and_email_show_the_parcel(client: FlaskClient, shipped: int) -> None:
    status, page = track(client, "1001", "  jane.doe@example.COM ")  # no '#', any case
    assert status == 200
    assert "In transit" in page
    assert "China Post" in page
    assert re.search(r'<a href="https://[^"]*LX123456785CN"[^>]*>LX123456785CN<', page)
    # Newest event first, with its place and date.
    assert page.index("Guangzhou hub") < page.index("Shenzhen")
    assert "4 Nov 2026" in page
    # No date from the supplier: the default window, 7-15 days after forwarding.
    assert "Mon 9 Nov 2026" in page and "Tue 17 Nov 2026" in page


def test_every_mismatch_gets_the_same_answer(client: FlaskClient, shipped: int) -> None:
    wrong_email = track(client, "#1001", "someone@example.com")
    unknown_order = track(client, "#9999", "jane.doe@example.com")
    empty = track(client, "", "")

    def message(page: str) -> str:
        found = re.search(r'<p class="error"[^>]*>(.*?)</p>', page)
        assert found is not None
        return found.group(1)

    assert wrong_email[0] == unknown_order[0] == empty[0] == 404
    assert message(wrong_email[1]) == message(unknown_order[1]) == message(empty[1])
    assert "could not find an order" in message(wrong_email[1])
    assert "In transit" not in wrong_email[1]


def test_lookups_are_rate_limited_per_address(client: FlaskClient, shop: Shop,
                                              shipped: int) -> None:
    token = csrf(client)
    for _ in range(20):
        assert track(client, "#1001", "nobody@example.com", token)[0] == 404
    status, page = track(client, "#1001", "jane.doe@example.com", token)
    assert status == 429 and "Too many lookups" in page
    shop.clock.advance(DAY)  # the window passes
    assert track(client, "#1001", "jane.doe@example.com", token)[0] == 200


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, shipped: int) -> None:
    response = client.post("/track", data={"order": "#1001", "email": "jane.doe@example.com"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_pages_carry_security_headers(client: FlaskClient) -> None:
    response = client.get("/track")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://admin.shopify.com https://*.myshopify.com" in policy
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "X-Frame-Options" not in response.headers  # it would stop the Shopify embed
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pending_payment_is_explained_in_customer_words(client: FlaskClient,
                                                        shop: Shop) -> None:
    shop.place("#1002", email="sam@example.com", payment=Payment.AWAITING)
    status, page = track(client, "#1002", "sam@example.com")
    assert status == 200
    assert "Pending" in page and "waiting for your payment to be confirmed" in page
    assert "Estimated delivery" not in page


def test_undelivered_parcel_asks_the_customer_to_act(client: FlaskClient, shop: Shop) -> None:
    order_id = shop.place("#1003", email="lee@example.com")
    shop.ship(order_id, "LX123456785CN",
              ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    status, page = track(client, "#1003", "lee@example.com")
    assert status == 200 and "Action needed" in page
    assert "please confirm your delivery address" in page


def test_json_variant_for_embeds(client: FlaskClient, shop: Shop, shipped: int) -> None:
    response = client.post("/track.json", json={"order": "#1001",
                                                "email": "jane.doe@example.com"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["label"] == "In transit"
    assert body["parcels"][0]["tracking_number"] == "LX123456785CN"
    assert [e["label"] for e in body["parcels"][0]["events"]] == ["In transit", "Shipped"]
    miss = client.post("/track.json", json={"order": "#1001", "email": "x@example.com"})
    assert miss.status_code == 404 and miss.get_json()["error"] == "not_found"
    other_store = client.post("/track.json", json={"order": "#1001", "store": shop.store_id + 1,
                                                   "email": "jane.doe@example.com"})
    assert other_store.status_code == 404


def test_supplier_date_beats_the_default_window(shop: Shop) -> None:
    order_id = shop.place("#1004", email="kim@example.com")
    shop.ship(order_id, "LX123456785CN", ("a", Status.IN_TRANSIT, 1, None, ""),
              eta=T0 + 5 * DAY)
    with shop.runtime.db.read() as session:
        view = tracking_view(session, shop.store_id, "#1004", "KIM@example.com",
                             now=T0 + 20 * DAY)
    assert view is not None
    assert view.eta_from == view.eta_to == T0 + 5 * DAY
    assert view.late
