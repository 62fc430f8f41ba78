"""Issue 8's dashboard acceptance in a real headless Chromium (Debian's), at phone width:
the needs-attention queue acting on an out-of-stock order and on an undelivered one, a CSV
mapping import with one bad row; and axe-core finds no serious or critical accessibility
violation on any dashboard page. Screenshots are saved in the test's tmp dir as artefacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from core.domain import Address, Payment
from core.status import Reason, Status
from integration.kernel.runtime import Runtime
from integration.storage.models import OutboxJob, SkuMapping, SupplierOrder
from tests.helpers.axe import axe_context, axe_script, check  # noqa: F401
from tests.integration.test_admin_data import OWNER_EMAIL, OWNER_PASSWORD, Shop, build_shop
from tests.integration.test_admin_setup import add_backup, out_of_stock

PHONE = 390


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


def sign_in(page: Page, live_url: str) -> None:
    page.goto(f"{live_url}/admin/")
    page.get_by_label("E-mail").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def test_queue_switches_an_out_of_stock_order_to_the_backup(page: Page, live_url: str,
                                                            shop: Shop, tmp_path: Path) -> None:
    order_id = shop.place("#6001")
    out_of_stock(shop, order_id)
    backup_id = add_backup(shop)
    sign_in(page, live_url)
    page.get_by_role("link", name="Needs attention").click()
    item = page.locator("article.queue-item", has_text="Out of stock")
    expect(item).to_contain_text("the supplier is out of stock (SZ-LAMP: 0 left)")
    expect(item.get_by_role("button", name="Forward again")).to_be_visible()
    page.screenshot(path=tmp_path / "queue-out-of-stock.png", full_page=True)
    fits_the_phone(page)

    item.get_by_role("button", name="Switch to the backup supplier").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Switched to the backup supplier (Backup Lights)")
    # The alert stays until the backup accepts; the queue says the order is on its way.
    expect(page.locator("article.queue-item", has_text="Out of stock")).to_contain_text(
        "Sending to the supplier again")
    page.screenshot(path=tmp_path / "queue-switched-to-backup.png", full_page=True)
    with shop.runtime.db.read() as session:
        queued = session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == order_id, SupplierOrder.status == "queued")).one()
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.idempotency_key == queued.idempotency_key)).one()
    assert (queued.supplier_id, job.kind, job.state) == (backup_id, "supplier.forward",
                                                         "pending")
    assert list(tmp_path.glob("queue-*.png"))


def test_queue_resends_the_message_for_an_undelivered_order(page: Page, live_url: str,
                                                            shop: Shop, tmp_path: Path) -> None:
    order_id = shop.place("#6002", email="lee@example.com")
    shop.ship(order_id, "LX123456785CN",
              ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    with shop.runtime.db.write() as session:  # the first message was sent
        for job in session.scalars(select(OutboxJob).where(
                OutboxJob.kind == "notify.undelivered")):
            job.state = "done"
    sign_in(page, live_url)
    page.get_by_role("link", name="Needs attention").click()
    item = page.locator("article.queue-item", has_text="Undelivered")
    expect(item).to_contain_text("could not be delivered (invalid address)")
    page.screenshot(path=tmp_path / "queue-undelivered.png", full_page=True)

    item.get_by_role("button", name="Resend the undelivered message").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Queued the undelivered-parcel message to the customer again")
    page.locator("article.queue-item", has_text="Undelivered").get_by_role(
        "button", name="Resend the undelivered message").click()
    expect(page.locator(".flash-error")).to_contain_text("already waiting to be sent")

    # The owner hears back from the customer and closes it with a note.
    item = page.locator("article.queue-item", has_text="Undelivered")
    item.get_by_text("Note a refund or variant offer").click()
    item.get_by_label("Reshipped the order").check()
    item.get_by_label("Note (amount, variant").fill("reshipped to the corrected address")
    item.get_by_role("button", name="Save note and resolve").click()
    expect(page.get_by_role("status")).to_contain_text("Noted and marked as resolved")
    expect(page.locator("article.queue-item", has_text="Undelivered")).to_have_count(0)
    page.screenshot(path=tmp_path / "queue-undelivered-resolved.png", full_page=True)
    fits_the_phone(page)
    with shop.runtime.db.read() as session:
        resend = session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "notify.undelivered", OutboxJob.state == "pending")).one()
    assert ":resend:" in resend.idempotency_key


def test_address_to_confirm_is_corrected_from_the_order_page(page: Page, live_url: str,
                                                             shop: Shop, tmp_path: Path) -> None:
    order_id = shop.place("#6003", address=Address(name="Jo", address1="", city="Boston",
                                                   country="US"))
    with shop.runtime.db.write() as session:  # the first message was sent
        session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "notify.confirm_address")).one().state = "done"
    sign_in(page, live_url)
    page.get_by_role("link", name="Needs attention").click()
    item = page.locator("article.queue-item", has_text="Address to confirm")
    item.get_by_role("button", name="Resend the address message").click()
    expect(page.get_by_role("status")).to_contain_text("the request to confirm the address")
    page.locator("article.queue-item", has_text="Address to confirm").get_by_role(
        "link", name="Correct the address").click()
    page.get_by_label("Address line 1").fill("1 Main St")
    page.get_by_label("Postcode").fill("02108")
    page.get_by_label("Province").fill("MA")
    page.get_by_role("button", name="Save address and forward").click()
    expect(page.get_by_role("status")).to_contain_text("Address saved")
    expect(page.get_by_text("E-mail the customer: confirm the address").first).to_be_visible()
    page.screenshot(path=tmp_path / "order-address-corrected.png", full_page=True)
    with shop.runtime.db.read() as session:
        assert session.scalars(select(SupplierOrder.status).where(
            SupplierOrder.order_id == order_id)).all() == ["queued"]


def test_csv_mapping_import_with_one_bad_row(page: Page, live_url: str, shop: Shop,
                                             tmp_path: Path) -> None:
    spreadsheet = tmp_path / "mappings.csv"
    spreadsheet.write_text("sku,supplier,supplier_sku,destination_country,backup_supplier\n"
                           "LAMP,Shenzhen Lights,SZ-LAMP-2,,\n"
                           "SHADE,Nowhere Ltd,,,\n"
                           "BULB,Shenzhen Lights,SZ-BULB,DE,\n", encoding="utf-8")
    sign_in(page, live_url)
    page.get_by_role("link", name="SKU mappings").click()
    page.get_by_label("CSV file").set_input_files(spreadsheet)
    page.get_by_role("button", name="Import mappings").click()
    report = page.locator("#import-report")
    expect(report.get_by_role("status")).to_contain_text(
        "1 mapping(s) added, 1 updated, 1 row(s) not imported")
    bad_row = report.get_by_role("row", name="Line 3")
    expect(bad_row).to_contain_text("unknown supplier 'Nowhere Ltd'")
    expect(bad_row).to_contain_text("Add that supplier on the Suppliers page first")
    table = page.locator("table#mappings")
    expect(table).to_contain_text("SZ-BULB")
    expect(table).to_contain_text("SZ-LAMP-2")
    expect(table).not_to_contain_text("SHADE")
    page.screenshot(path=tmp_path / "mappings-import-one-bad-row.png", full_page=True)
    fits_the_phone(page)
    with shop.runtime.db.read() as session:
        assert sorted(session.scalars(select(SkuMapping.sku))) == ["BULB", "LAMP"]


# --- accessibility ----------------------------------------------------------------------------


def test_dashboard_pages_have_no_serious_accessibility_violations(
        axe_context: BrowserContext, axe_script: Path, live_url: str,  # noqa: F811
        shop: Shop, tmp_path: Path) -> None:
    stuck = shop.place("#7001")
    out_of_stock(shop, stuck)
    shipped = shop.place("#7002")
    shop.ship(shipped, "LX123456785CN",
              ("a", Status.IN_TRANSIT, 1, None, "Guangzhou hub"),
              ("b", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    shop.place("#7003", payment=Payment.AWAITING)
    page = axe_context.new_page()
    page.goto(f"{live_url}/admin/login")
    found = {"login": check(page, axe_script)}
    sign_in(page, live_url)
    for name, path in (("overview", "/admin/"), ("attention", "/admin/attention"),
                       ("orders", "/admin/orders"), ("order", f"/admin/orders/{shipped}"),
                       ("held-order", f"/admin/orders/{stuck}"),
                       ("suppliers", "/admin/suppliers"),
                       ("supplier", f"/admin/suppliers/{shop.supplier_id}"),
                       ("mappings", "/admin/mappings"), ("stores", "/admin/stores"),
                       ("settings", "/admin/settings")):
        page.goto(live_url + path)
        for summary in page.locator("details summary").all():
            summary.click()  # the action forms inside count too
        found[name] = check(page, axe_script)
        page.screenshot(path=tmp_path / f"axe-{name}.png", full_page=True)
    spreadsheet = tmp_path / "bad.csv"
    spreadsheet.write_text("sku,supplier\nX,Nobody\n", encoding="utf-8")
    page.goto(f"{live_url}/admin/mappings")
    page.get_by_label("CSV file").set_input_files(spreadsheet)
    page.get_by_role("button", name="Import mappings").click()
    expect(page.locator("#import-report")).to_be_visible()
    found["mappings-report"] = check(page, axe_script)
    problems = {name: [str(v) for v in violations] for name, violations in found.items()
                if violations}
    assert problems == {}
