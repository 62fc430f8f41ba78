"""Setting DropTrack up from the dashboard: suppliers (add, edit, switch off: the backup takes
over), SKU mappings (CSV import with bad rows, export, one mapping), store connections and their
health, write-back settings; and the needs-attention actions for out-of-stock and undelivered
orders (switch to the backup, resend the customer's message, note a refund)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.suppliers.base import Rejection
from connectors.url_safety import check_outbound_url
from core.status import Reason, Status
from integration.accounts import suppliers
from integration.engine import forwarding
from integration.engine.orders import CONFIRM_ADDRESS_JOB, FORWARD_JOB
from integration.engine.tracking import UNDELIVERED_NOTICE_JOB
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    AuditLog,
    Order,
    OutboxJob,
    SkuMapping,
    Store,
    Supplier,
    SupplierOrder,
)
from integration.sync.suppliers import csv_exchange as csv_suppliers
from integration.web.shopify_app import oauth_signature_valid
from tests.integration.test_admin_dashboard import post, sign_in, token
from tests.integration.test_admin_data import T0, Shop, build_shop


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


@pytest.fixture
def owner(client: FlaskClient, shop: Shop) -> FlaskClient:
    assert sign_in(client).status_code == 302
    return client


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """api.supplier.example resolves to a public address (no DNS in the test)."""
    safe = partial(check_outbound_url, resolver=lambda host, port: [
        host if host[0].isdigit() else "93.184.215.14"])
    monkeypatch.setattr(suppliers, "check_outbound_url", safe)
    monkeypatch.setattr("integration.web.admin.catalog.check_outbound_url", safe)


def add_backup(shop: Shop, name: str = "Backup Lights") -> int:
    with shop.runtime.db.write() as session:
        backup = Supplier(name=name, kind="rest", created_at=T0, settings={})
        session.add(backup)
        session.flush()
        mapping = session.scalars(select(SkuMapping).where(SkuMapping.sku == "LAMP")).one()
        mapping.backup_supplier_id = backup.id
        return backup.id


def out_of_stock(shop: Shop, order_id: int) -> None:
    """The supplier refuses the forwarded order, the way the forward job records it."""
    with shop.runtime.db.write() as session:
        row = session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == order_id)).one()
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.idempotency_key == row.idempotency_key)).one()
        job.state, job.finished_at = "done", shop.clock.now()
        forwarding._rejected(session, row, session.get_one(Order, order_id),
                             Rejection("out_of_stock", "no stock", ("SZ-LAMP: 0 left",)),
                             shop.runtime)


# --- suppliers --------------------------------------------------------------------------------


def test_add_a_rest_supplier_and_refuse_a_private_address(owner: FlaskClient, shop: Shop,
                                                          public_dns: None) -> None:
    page = post(owner, "/admin/suppliers/rest", name="Hangzhou Home",
                base_url="https://api.supplier.example/v1/", api_key="k-123")
    text = page.get_data(as_text=True)
    assert "Supplier Hangzhou Home added" in text
    assert "https://api.supplier.example/v1" in text and "k-123" not in text
    refused = owner.post("/admin/suppliers/rest", data={
        "name": "Sneaky", "base_url": "https://10.0.0.8/api", "api_key": "k",
        "csrf_token": token(owner, "/admin/suppliers")})
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "The supplier was not added" in body and "Correct it" in body
    assert 'value="Sneaky"' in body  # the form keeps what was typed (but not the key)
    with shop.runtime.db.read() as session:
        names = session.scalars(select(Supplier.name).order_by(Supplier.id)).all()
    assert names == ["Shenzhen Lights", "Hangzhou Home"]


def test_add_a_spreadsheet_supplier_and_edit_it(owner: FlaskClient, shop: Shop,
                                                tmp_path: Path) -> None:
    page = post(owner, "/admin/suppliers/csv", name="Sheet Co",
                outbox_dir=str(tmp_path / "out"), inbox_dir=str(tmp_path / "in"))
    assert "Spreadsheet supplier Sheet Co added" in page.get_data(as_text=True)
    with shop.runtime.db.read() as session:
        sheet = session.scalars(select(Supplier).where(Supplier.kind == csv_suppliers.CSV)).one()
    assert (tmp_path / "out").is_dir()
    page = post(owner, f"/admin/suppliers/{sheet.id}", name="Sheet Co Ltd",
                outbox_dir=str(tmp_path / "orders"), inbox_dir="")
    assert "Supplier Sheet Co Ltd saved" in page.get_data(as_text=True)
    with shop.runtime.db.read() as session:
        saved = session.get_one(Supplier, sheet.id)
        audit = session.scalars(select(AuditLog).where(
            AuditLog.action == "supplier.edited")).one()
    assert saved.settings["outbox_dir"] == str(tmp_path / "orders")
    assert saved.settings["inbox_dir"] == str(tmp_path / "in")
    assert audit.details == {"fields": ["name", "outbox_dir"]}


def test_editing_a_rest_supplier_checks_the_address_and_keeps_the_key(
        owner: FlaskClient, shop: Shop) -> None:
    page = post(owner, f"/admin/suppliers/{shop.supplier_id}", name="Shenzhen Lights",
                base_url="http://127.0.0.1:9/api", api_key="")
    assert "Nothing was changed: That API address cannot be used" in page.get_data(
        as_text=True)
    with shop.runtime.db.read() as session:
        assert session.get_one(Supplier, shop.supplier_id).settings == {}


def test_a_switched_off_supplier_hands_new_orders_to_the_backup(owner: FlaskClient,
                                                                shop: Shop) -> None:
    backup_id = add_backup(shop)
    page = post(owner, f"/admin/suppliers/{shop.supplier_id}/active", active="0")
    assert "Shenzhen Lights is switched off" in page.get_data(as_text=True)
    order_id = shop.place("#4001")
    with shop.runtime.db.read() as session:
        routed = session.scalars(select(SupplierOrder.supplier_id).where(
            SupplierOrder.order_id == order_id)).all()
    assert routed == [backup_id]
    page = post(owner, f"/admin/suppliers/{shop.supplier_id}/active", active="0")
    assert "already inactive" in page.get_data(as_text=True)
    post(owner, f"/admin/suppliers/{shop.supplier_id}/active", active="1")
    with shop.runtime.db.read() as session:
        assert session.get_one(Supplier, shop.supplier_id).active


# --- SKU mappings -----------------------------------------------------------------------------

CSV_WITH_ONE_BAD_ROW = (
    "sku,supplier,supplier_sku,destination_country,backup_supplier\n"
    "LAMP,Shenzhen Lights,SZ-LAMP-2,,\n"
    "SHADE,Nowhere Ltd,,,\n"
    "BULB,Shenzhen Lights,SZ-BULB,DE,\n"
)


def test_csv_import_reports_the_bad_line_and_imports_the_rest(owner: FlaskClient,
                                                              shop: Shop) -> None:
    from io import BytesIO

    response = owner.post("/admin/mappings/import", data={
        "csrf_token": token(owner, "/admin/mappings"), "store": str(shop.store_id),
        "file": (BytesIO(CSV_WITH_ONE_BAD_ROW.encode()), "mappings.csv")},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 mapping(s) added, 1 updated, 1 row(s) not imported" in page
    assert re.search(r"<td>Line 3</td><td>unknown supplier &#39;Nowhere Ltd&#39;</td>"
                     r"<td>Add that supplier on the Suppliers page", page)
    with shop.runtime.db.read() as session:
        rows = {row.sku: row for row in session.scalars(select(SkuMapping))}
    assert set(rows) == {"LAMP", "BULB"}
    assert rows["LAMP"].supplier_sku == "SZ-LAMP-2" and rows["BULB"].destination_country == "DE"
    export = owner.get(f"/admin/mappings/export.csv?store={shop.store_id}")
    assert export.mimetype == "text/csv"
    assert export.get_data(as_text=True).splitlines()[1:] == [
        "BULB,Shenzhen Lights,SZ-BULB,DE,,,,,,", "LAMP,Shenzhen Lights,SZ-LAMP-2,,,,,,,"]


def test_a_file_that_is_not_utf8_or_has_no_header_is_explained(owner: FlaskClient,
                                                                shop: Shop) -> None:
    from io import BytesIO

    def upload(data: bytes) -> tuple[int, str]:
        response = owner.post("/admin/mappings/import", data={
            "csrf_token": token(owner, "/admin/mappings"),
            "file": (BytesIO(data), "m.csv")}, content_type="multipart/form-data")
        return response.status_code, response.get_data(as_text=True)

    status, page = upload("sku;supplier\n".encode("utf-16"))
    assert status == 400 and "CSV UTF-8" in page
    status, page = upload(b"name,vendor\nx,y\n")
    assert status == 200 and "missing column(s) sku, supplier" in page
    assert "The first line must name the columns" in page


def test_one_mapping_from_the_form_follows_the_csv_rules(owner: FlaskClient,
                                                         shop: Shop) -> None:
    bad = post(owner, "/admin/mappings", store=str(shop.store_id), sku="MUG",
               supplier=str(shop.supplier_id), destination_country="Germany").get_data(
        as_text=True)
    assert "The mapping was not saved" in bad and "two-letter country code" in bad
    good = post(owner, "/admin/mappings", store=str(shop.store_id), sku="MUG",
                supplier=str(shop.supplier_id), destination_country="de").get_data(as_text=True)
    assert "Mapping for SKU MUG saved" in good
    with shop.runtime.db.read() as session:
        mug = session.scalars(select(SkuMapping).where(SkuMapping.sku == "MUG")).one()
    assert mug.destination_country == "DE"
    gone = post(owner, f"/admin/mappings/{mug.id}/delete", store=str(shop.store_id))
    assert "Mapping for SKU MUG deleted" in gone.get_data(as_text=True)


# --- stores and settings ----------------------------------------------------------------------


def test_stores_page_shows_health_and_connect_buttons(owner: FlaskClient, shop: Shop) -> None:
    with shop.runtime.db.write() as session:
        session.add(Store(platform="woocommerce", domain="https://garden.example",
                          name="Garden", credentials_encrypted="x", created_at=T0,
                          updated_at=T0, settings={"woocommerce": {
                              "health": {"ok": False, "problem": "401 Unauthorized: the "
                                         "consumer key is invalid", "at": T0.isoformat()},
                              "reconciled_until": T0.isoformat()}}))
    page = owner.get("/admin/stores").get_data(as_text=True)
    assert "lamps.myshopify.com" in page and "Garden" in page
    assert "the consumer key is invalid" in page and "needs attention" in page
    assert "Check the store&#39;s REST API keys" in page
    assert "Last sync" in page and "2 Nov 2026, 09:00 UTC" in page
    assert 'action="/woocommerce/connect"' in page and "Connect Shopify" in page
    policy = owner.get("/admin/stores").headers["Content-Security-Policy"]
    assert "form-action 'self' https:" in policy


def test_connect_shopify_needs_the_app_credentials(owner: FlaskClient, shop: Shop) -> None:
    response = owner.post("/admin/stores/shopify", data={
        "shop": "new-shop", "csrf_token": token(owner, "/admin/stores")})
    assert response.status_code == 503
    assert "client_id and client_secret under [shopify]" in response.get_data(as_text=True)
    shop.runtime.settings = shop.runtime.settings.model_copy(update={
        "shopify": shop.runtime.settings.shopify.model_copy(update={
            "client_id": "id", "client_secret": "app-secret"})})
    bad = owner.post("/admin/stores/shopify", data={
        "shop": "https://evil.example", "csrf_token": token(owner, "/admin/stores")})
    assert bad.status_code == 400 and "myshopify.com" in bad.get_data(as_text=True)
    response = owner.post("/admin/stores/shopify", data={
        "shop": "new-shop", "csrf_token": token(owner, "/admin/stores")})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = parse_qsl(location.query)
    assert location.path == "/shopify/install"
    assert dict(params)["shop"] == "new-shop.myshopify.com"
    assert oauth_signature_valid(params, "app-secret")
    # ... which the install route accepts, sending the owner on to the shop's consent page.
    install = owner.get(response.headers["Location"])
    assert install.status_code == 302
    assert "new-shop.myshopify.com/admin/oauth/authorize" in install.headers["Location"]


def test_write_back_settings_take_effect_where_connectors_read_them(
        owner: FlaskClient, shop: Shop) -> None:
    from connectors.shopify.settings import StoreSettings as ShopifySettings
    from connectors.woocommerce.settings import StoreSettings as WooSettings

    with shop.runtime.db.write() as session:
        woo = Store(platform="woocommerce", domain="https://garden.example", name="Garden",
                    created_at=T0, updated_at=T0, settings={})
        session.add(woo)
        session.flush()
        woo_id = woo.id
    page = owner.get("/admin/settings").get_data(as_text=True)
    assert "no_tracking_days" in page and "config.toml" in page
    assert "as soon as it ships" in page and "Shopify e-mails the customer" in page
    saved = post(owner, f"/admin/settings/stores/{woo_id}", complete_on="delivered",
                 status_updates="immediate").get_data(as_text=True)
    assert "Saved for Garden" in saved
    refused = post(owner, f"/admin/settings/stores/{woo_id}", complete_on="never",
                   status_updates="immediate").get_data(as_text=True)
    assert "Nothing was changed: Choose when orders become Completed" in refused
    post(owner, f"/admin/settings/stores/{shop.store_id}", notify_customer="no")
    with shop.runtime.db.read() as session:
        woo_settings = WooSettings.from_store(session.get_one(Store, woo_id).settings)
        shopify = ShopifySettings.parse(session.get_one(Store, shop.store_id).settings,
                                        allow_override=False)
    assert (woo_settings.complete_on, woo_settings.status_updates) == ("delivered",
                                                                       "immediate")
    assert shopify.notify_customer is False


# --- needs-attention actions ------------------------------------------------------------------


def test_out_of_stock_order_switches_to_the_backup_supplier(owner: FlaskClient,
                                                            shop: Shop) -> None:
    order_id = shop.place("#5001")
    out_of_stock(shop, order_id)
    queue = owner.get("/admin/attention").get_data(as_text=True)
    assert "Out of stock" in queue and "Switch to the backup supplier" in queue
    no_backup = post(owner, f"/admin/orders/{order_id}/backup",
                     back="/admin/attention").get_data(as_text=True)
    assert "has no backup supplier. Add one in SKU mappings" in no_backup
    backup_id = add_backup(shop)
    page = post(owner, f"/admin/orders/{order_id}/backup",
                back="/admin/attention").get_data(as_text=True)
    assert "Switched to the backup supplier (Backup Lights)" in page
    assert "Sending to the supplier again" in page  # the alert stays until it is accepted
    with shop.runtime.db.read() as session:
        rows = session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == order_id).order_by(SupplierOrder.id)).all()
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.idempotency_key == rows[-1].idempotency_key)).one()
        order = session.get_one(Order, order_id)
    assert [(r.supplier_id, r.status) for r in rows] == [(shop.supplier_id, "cancelled"),
                                                        (backup_id, "queued")]
    assert (job.kind, job.state, job.payload["lines"][0]["supplier_sku"]) == (
        FORWARD_JOB, "pending", "SZ-LAMP")
    assert order.status == Status.PROCESSING
    again = post(owner, f"/admin/orders/{order_id}/backup").get_data(as_text=True)
    assert "No supplier refused order #5001" in again


def test_refund_note_resolves_the_alert_on_record(owner: FlaskClient, shop: Shop) -> None:
    order_id = shop.place("#5002")
    out_of_stock(shop, order_id)
    with shop.runtime.db.read() as session:
        alert_id = session.scalars(select(Alert.id).where(Alert.kind == "out_of_stock")).one()
    missing = post(owner, f"/admin/alerts/{alert_id}/outcome", outcome="other", note=" ")
    assert "Write a short note" in missing.get_data(as_text=True)
    page = post(owner, f"/admin/alerts/{alert_id}/outcome", outcome="refund",
                note="refunded 24.90 EUR", back="/admin/attention").get_data(as_text=True)
    assert "Noted and marked as resolved" in page and "Nothing needs you right now" in page
    with shop.runtime.db.read() as session:
        audit = session.scalars(select(AuditLog).where(
            AuditLog.action == "order.outcome_noted")).one()
    assert audit.subject == "order #5002"
    assert audit.details == {"alert": "out_of_stock", "outcome": "refund",
                             "note": "refunded 24.90 EUR"}


def test_resend_the_customer_messages(owner: FlaskClient, shop: Shop) -> None:
    from core.domain import Address

    held = shop.place("#5003", address=Address(name="Jo", address1="", city="Boston",
                                               country="US"))
    shipped = shop.place("#5004")
    shop.ship(shipped, "LX123456785CN",
              ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    with shop.runtime.db.write() as session:  # the first messages went out
        for job in session.scalars(select(OutboxJob).where(OutboxJob.kind.in_(
                (CONFIRM_ADDRESS_JOB, UNDELIVERED_NOTICE_JOB)))):
            job.state = "done"
        alerts = {alert.kind: alert.id for alert in session.scalars(select(Alert))}
    queue = owner.get("/admin/attention").get_data(as_text=True)
    assert "Resend the address message" in queue and "Resend the undelivered message" in queue
    page = post(owner, f"/admin/alerts/{alerts['undelivered']}/resend").get_data(as_text=True)
    assert "Queued the undelivered-parcel message to the customer again" in page
    assert "E-mail is not set up yet" in page
    twice = post(owner, f"/admin/alerts/{alerts['undelivered']}/resend").get_data(as_text=True)
    assert "already waiting to be sent" in twice
    page = post(owner, f"/admin/alerts/{alerts['address_needs_confirmation']}/resend")
    assert "the request to confirm the address" in page.get_data(as_text=True)
    with shop.runtime.db.read() as session:
        pending = session.execute(select(OutboxJob.kind, OutboxJob.idempotency_key,
                                         OutboxJob.payload).where(
            OutboxJob.state == "pending", OutboxJob.kind.in_(
                (CONFIRM_ADDRESS_JOB, UNDELIVERED_NOTICE_JOB))).order_by(OutboxJob.id)).all()
    assert [kind for kind, _, _ in pending] == [UNDELIVERED_NOTICE_JOB, CONFIRM_ADDRESS_JOB]
    assert pending[0][1].startswith("undelivered:") and ":resend:" in pending[0][1]
    assert pending[1][1].startswith(f"confirm-address:{held}:resend:")
    assert pending[1][2]["problems"]  # the same problems the customer was first told about
    timeline = owner.get(f"/admin/orders/{held}").get_data(as_text=True)
    assert "E-mail the customer: confirm the address" in timeline
