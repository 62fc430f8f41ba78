"""The customer's tracking page in a real headless Chromium at desktop (1280x800) and phone
(390x844) widths: the right order + e-mail, a wrong e-mail, the rate limit; and axe-core finds
no serious or critical accessibility violation on the form, the answer and the error states.
Screenshots are saved in the test's tmp dir as artefacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from core.status import Reason, Status
from integration.kernel.runtime import Runtime
from tests.helpers.axe import axe_context, axe_script, check  # noqa: F401
from tests.integration.test_admin_data import Shop, build_shop

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
LIMIT = 4  # lookups per window in these tests


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    shop = build_shop(runtime)
    admin = runtime.settings.admin.model_copy(update={"tracking_lookups_per_window": LIMIT})
    runtime.settings = runtime.settings.model_copy(update={"admin": admin})
    order_id = shop.place("#1001", email="jane@example.com")
    shop.ship(order_id, "LX123456785CN",
              ("accepted", Status.INFO_RECEIVED, 1, None, "Shenzhen"),
              ("departed", Status.IN_TRANSIT, 2, None, "Guangzhou hub"))
    undelivered = shop.place("#1002", email="lee@example.com")
    shop.ship(undelivered, "LX123456785CN",
              ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    return shop


@pytest.fixture(params=sorted(SIZES))
def sized_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    yield request.param, context.new_page()
    context.close()


def look_up(page: Page, number: str, email: str) -> None:
    page.get_by_label("Order number").fill(number)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Track order").click()


def test_customer_tracks_an_order_then_hits_the_limit(sized_page: tuple[str, Page],
                                                      live_url: str, shop: Shop,
                                                      tmp_path: Path) -> None:
    size, page = sized_page
    width = SIZES[size][0]
    page.goto(f"{live_url}/track")
    expect(page.get_by_role("heading", name="Track your order")).to_be_visible()
    page.screenshot(path=tmp_path / f"track-form-{size}.png", full_page=True)

    look_up(page, "1001", " JANE@example.com ")  # 1: no '#', any case and spaces
    expect(page.get_by_role("heading", name="In transit", level=1)).to_be_visible()
    expect(page.get_by_text("Estimated delivery").first).to_be_visible()
    link = page.get_by_role("link", name=re.compile("LX123456785CN"))
    expect(link).to_have_attribute("href", re.compile(r"^https://.*LX123456785CN"))
    expect(page.get_by_text("Guangzhou hub")).to_be_visible()
    page.screenshot(path=tmp_path / f"track-found-{size}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.get_by_role("link", name="Track another order").click()
    look_up(page, "#1001", "someone@example.com")  # 2: wrong e-mail
    expect(page.get_by_role("alert")).to_have_text(
        "We could not find an order with that number and e-mail address. Check both against "
        "your order confirmation e-mail and try again.")
    expect(page.get_by_label("Order number")).to_have_value("#1001")  # nothing to retype
    page.screenshot(path=tmp_path / f"track-wrong-email-{size}.png", full_page=True)
    look_up(page, "#9999", "jane@example.com")  # 3: unknown order: the very same answer
    expect(page.get_by_role("alert")).to_contain_text("could not find an order")

    look_up(page, "#1002", "lee@example.com")  # 4: action needed
    expect(page.get_by_role("heading", name="Action needed", level=1)).to_be_visible()
    expect(page.get_by_text("please confirm your delivery address")).to_be_visible()
    page.screenshot(path=tmp_path / f"track-action-needed-{size}.png", full_page=True)

    page.get_by_role("link", name="Track another order").click()
    look_up(page, "#1001", "jane@example.com")  # 5: over the limit, even when right
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many lookups from your network. Please try again in 10 minutes.")
    expect(page.get_by_role("heading", name="In transit")).to_have_count(0)
    page.screenshot(path=tmp_path / f"track-rate-limited-{size}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert len(list(tmp_path.glob(f"track-*-{size}.png"))) == 5


def test_tracking_page_has_no_serious_accessibility_violations(
        axe_context: BrowserContext, axe_script: Path, live_url: str,  # noqa: F811
        shop: Shop) -> None:
    runtime = shop.runtime
    admin = runtime.settings.admin.model_copy(update={"tracking_lookups_per_window": 100})
    runtime.settings = runtime.settings.model_copy(update={"admin": admin})
    found = {}
    for size, (width, height) in SIZES.items():
        page = axe_context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_url}/track")
        found[f"form-{size}"] = check(page, axe_script)
        look_up(page, "#1001", "jane@example.com")
        expect(page.get_by_role("heading", name="In transit", level=1)).to_be_visible()
        found[f"in-transit-{size}"] = check(page, axe_script)
        page.goto(f"{live_url}/track")
        look_up(page, "#1002", "lee@example.com")
        expect(page.get_by_role("heading", name="Action needed", level=1)).to_be_visible()
        found[f"action-needed-{size}"] = check(page, axe_script)
        page.goto(f"{live_url}/track")
        look_up(page, "#1001", "nobody@example.com")
        expect(page.get_by_role("alert")).to_be_visible()
        found[f"not-found-{size}"] = check(page, axe_script)
        page.close()
    problems = {name: [str(v) for v in violations] for name, violations in found.items()
                if violations}
    assert problems == {}
