"""The dashboard and the tracking page in a real headless Chromium at phone width.

Screenshots land in the test's tmp dir (kept by pytest for the last runs) as artefacts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.domain import Payment
from core.status import Reason, Status
from integration.kernel.runtime import Runtime
from tests.integration.test_admin_data import OWNER_EMAIL, OWNER_PASSWORD, Shop, build_shop


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    shop = build_shop(runtime)
    delivered_late = shop.place("#1001", email="jane@example.com")
    shop.ship(delivered_late, "LX123456785CN",
              ("a", Status.IN_TRANSIT, 1, None, "Guangzhou hub"),
              ("b", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    shop.place("#1002", email="sam@example.com", payment=Payment.AWAITING)
    return shop


def sign_in(page: Page, live_url: str, password: str) -> None:
    page.goto(f"{live_url}/admin/")
    page.get_by_label("E-mail").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_owner_signs_in_and_works_the_queue(page: Page, live_url: str, shop: Shop,
                                            tmp_path: Path) -> None:
    sign_in(page, live_url, "wrong password!")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    page.screenshot(path=tmp_path / "login-wrong-password.png", full_page=True)

    sign_in(page, live_url, OWNER_PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("Need attention")).to_be_visible()
    expect(page.locator("svg[role=img]").first).to_be_visible()
    page.screenshot(path=tmp_path / "overview.png", full_page=True)

    page.get_by_role("link", name="Needs attention").click()
    expect(page.get_by_text("Undelivered", exact=True)).to_be_visible()
    expect(page.get_by_text("Payment issue", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "needs-attention.png", full_page=True)

    # Correct the undelivered parcel's tracking number from the queue.
    page.get_by_text("Correct tracking number or carrier").click()
    page.get_by_label("New tracking number").fill("9400111206206406260787")
    page.get_by_role("button", name="Save tracking number").click()
    expect(page.get_by_role("status")).to_contain_text("Tracking number changed")
    expect(page.get_by_text("Undelivered", exact=True)).to_have_count(0)

    page.get_by_role("link", name="Order #1002").click()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.get_by_text("Order received by DropTrack")).to_be_visible()
    page.screenshot(path=tmp_path / "order.png", full_page=True)

    page.get_by_text("Mark resolved").first.click()
    page.get_by_label("What was done").first.fill("customer will pay by transfer")
    page.get_by_role("button", name="Mark resolved").first.click()
    expect(page.get_by_role("status")).to_contain_text("Marked as resolved")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    assert list(tmp_path.glob("*.png"))


def test_customer_tracks_a_parcel_and_a_mismatch(page: Page, live_url: str, shop: Shop,
                                                 tmp_path: Path) -> None:
    page.goto(f"{live_url}/track")
    page.get_by_label("Order number").fill("1001")
    page.get_by_label("E-mail address").fill("someone@example.com")
    page.get_by_role("button", name="Track order").click()
    expect(page.get_by_role("alert")).to_contain_text("could not find an order")
    page.screenshot(path=tmp_path / "track-mismatch.png", full_page=True)

    page.get_by_label("E-mail address").fill("JANE@example.com")
    page.get_by_role("button", name="Track order").click()
    expect(page.get_by_role("heading", name="Action needed", level=1)).to_be_visible()
    expect(page.get_by_text("please confirm your delivery address")).to_be_visible()
    carrier_link = page.get_by_role("link", name="LX123456785CN")
    expect(carrier_link).to_have_attribute("href", re.compile(r"^https://.*LX123456785CN"))
    expect(page.get_by_text("Guangzhou hub")).to_be_visible()
    page.screenshot(path=tmp_path / "track-found.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The stylesheet loads under the CSP (served from our own origin).
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 247, 250)"
