"""Bad input on every path gets a clear refusal and leaves nothing half-stored: JSON that is
not JSON, links and addresses that would do harm, private addresses in any spelling, folders
outside the allowed root."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connectors.smtp import Email, SmtpSettings, build_message
from connectors.url_safety import UnsafeURLError, check_outbound_url
from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.errors import PermanentError
from core.status import Status
from integration.accounts import stores
from integration.base import logs
from integration.base.config import Settings
from integration.cli.main import main
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    InboxDelivery,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
    Supplier,
    SupplierOrder,
)
from integration.sync.suppliers.csv_exchange import CsvSupplierError, add_csv_supplier
from tests.helpers.webhook_fixtures import ConnectedStore, shopify_headers


def inbox_rows(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(InboxDelivery)) or 0)


@pytest.mark.parametrize("body", [
    b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,  # deeper than any parser's stack
    b'{"id": 1, "total": NaN}', b'{"id": 1, "total": Infinity}', b'{"id": 1, "total": -1e400}',
    b'{"id": ' + b"9" * 5000 + b"}",  # more digits than Python will turn into an int
    b'{"note": "caf\xe9"}',  # Latin-1, not UTF-8
])
def test_webhook_bodies_that_are_not_json_are_a_clear_400(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        body: bytes) -> None:
    answer = client.post("/webhooks/shopify", data=body,
                         headers=shopify_headers(body, topic="fulfillments/create"))
    assert answer.status_code == 400 and answer.json == {"error": "malformed JSON body"}
    assert inbox_rows(runtime) == 0


@pytest.mark.parametrize("body", [
    b'{"order": ' * 100_000 + b"1" + b"}" * 100_000, b'{"order": NaN, "email": "a@b.c"}'])
def test_json_api_bodies_that_are_not_json_are_a_clear_400(client: FlaskClient,
                                                            body: bytes) -> None:
    answer = client.post("/track.json", data=body, content_type="application/json")
    assert answer.status_code == 400


SMTP = SmtpSettings("127.0.0.1", 25, "", "", "none", "Shop <shop@example.com>", 5)


@pytest.mark.parametrize("to", [
    "jane@example.com, attacker@example.net", "jane@example.com\r\nBcc: attacker@example.net",
    "Jane <jane@example.com>; attacker@example.net", "jane@example.com;attacker@example.net",
    "\"a,b\"@example.com", "",
])
def test_an_address_that_would_add_recipients_sends_nothing(to: str) -> None:
    with pytest.raises(PermanentError, match="not one e-mail address"):
        build_message(SMTP, Email(to=to, subject="s", text="t", html="h", idempotency_key="k"))


def test_control_characters_cannot_start_an_email_header() -> None:
    message = build_message(SMTP, Email(
        to="jane@example.com", subject="Order #1\r\nBcc: attacker@example.net", text="t",
        html="h", idempotency_key="k"))
    assert "Bcc" not in message
    assert message.get_all("To") == ["jane@example.com"]


def test_control_characters_cannot_forge_a_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter(logs.TEXT_FORMAT))
    logger = logging.getLogger("droptrack.test.bad_input")
    logger.addHandler(handler)
    try:
        logger.warning("order %s", "#1\n2026-12-01 00:00:00 INFO forged line\x1b[31m")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1
    assert "\\n2026-12-01" in stream.getvalue() and "\x1b" not in stream.getvalue()


@pytest.mark.parametrize("link", ["javascript:alert(document.cookie)", "data:text/html,x",
                                  "https://carrier.example/t?n=1\r\nX: y", "//evil.example/"])
def test_a_suppliers_non_http_tracking_link_is_never_kept(
        runtime: Runtime, link: str) -> None:
    now = runtime.clock.now()
    store = stores.add_shopify_store(runtime, "links.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        session.add(Supplier(name="A", kind="rest", created_at=now))
        session.flush()
        session.add(SkuMapping(store_id=store, sku="LAMP", supplier_id=1, created_at=now))
        import_order(session, store, StoreOrder(
            external_id="9", number="#1009", email="c@example.com", payment=Payment.PAID,
            updated_at=now, lines=(OrderLine("1", 1, sku="LAMP"),),
            shipping_address=Address(name="C D", address1="1 Main St", city="Boston",
                                     province="MA", postcode="02108", country="US")), now)
        supplier_order_id = session.scalars(select(SupplierOrder.id)).one()
    with runtime.db.write() as session:
        apply_parcel_update(session, ParcelUpdate(
            supplier_order_id, "P1", "LX123456785CN", carrier="China Post",
            tracking_url=link, events=[CarrierEvent("e1", Status.IN_TRANSIT, now)]), now)
    with runtime.db.read() as session:
        shipment = session.scalars(select(Shipment)).one()
    assert not shipment.tracking_url.startswith(("javascript:", "data:", "//"))
    assert "\r" not in shipment.tracking_url and "\n" not in shipment.tracking_url


PRIVATE_FORMS = [
    "https://0x7f000001/", "https://2130706433/", "https://0177.0.0.1/", "https://10.1/",
    "https://[::ffff:169.254.169.254]/", "https://[::ffff:0:a00:1]/", "https://[::a00:1]/",
    "https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b:1::808:808]/", "https://[2002:a00:1::]/",
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "https://[fd00::1]/",
]


@pytest.mark.parametrize("url", PRIVATE_FORMS)
def test_private_addresses_in_any_spelling_are_refused_by_the_cli(
        url: str, settings: Settings, runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPTRACK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("DROPTRACK_SECURITY_SECRET_KEY", settings.security.secret_key)
    monkeypatch.setenv("DROPTRACK_SECURITY_ENCRYPTION_KEYS",
                       ",".join(settings.security.encryption_keys))
    result = CliRunner().invoke(main, ["stores", "add-woocommerce", "--url", url, "--key", "k",
                                       "--secret", "s", "--webhook-secret", "w"])
    assert result.exit_code == 1 and "private or reserved address" in result.output
    with runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "2002:c0a8:101::1", "::7f00:1",
                                     "::ffff:0:7f00:1"])
def test_transition_forms_resolved_for_a_name_are_refused(address: str) -> None:
    with pytest.raises(UnsafeURLError, match="private or reserved"):
        check_outbound_url("https://supplier.example/", resolver=lambda host, port: [address])


def test_a_public_address_behind_nat64_stays_allowed() -> None:
    assert check_outbound_url("https://supplier.example/",
                              resolver=lambda host, port: ["64:ff9b::808:808"])


def test_spreadsheet_folders_outside_the_allowed_root_are_refused(
        runtime: Runtime, tmp_path: Path) -> None:
    root = tmp_path / "exchange"
    runtime.settings = runtime.settings.model_copy(update={
        "security": runtime.settings.security.model_copy(update={"csv_root": str(root)})})
    (root / "escape").parent.mkdir(parents=True, exist_ok=True)
    (root / "escape").symlink_to(tmp_path)  # a link inside that leads out
    for outbox in ("/etc/droptrack", str(root / ".." / "elsewhere"), str(root / "escape")):
        with pytest.raises(CsvSupplierError, match="outside"):
            add_csv_supplier(runtime, "Sheets", outbox, str(root / "in"))
    with runtime.db.read() as session:
        assert session.scalars(select(Supplier)).all() == []
        assert session.scalars(select(OutboxJob)).all() == []
    assert add_csv_supplier(runtime, "Sheets", str(root / "out"), str(root / "in")) > 0
    assert not (tmp_path / "elsewhere").exists()
