"""Which source tracks a parcel, per store and per supplier: supplier push, 17TRACK, AfterShip
or DHL. Spreadsheet suppliers (no carrier events) go to the configured service by default;
the owner chooses otherwise in the dashboard's Settings or with `droptrack tracking source`,
and a parcel then goes to that service and no other."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import FrozenClock
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import AuditLog, SkuMapping, Store, Supplier, TrackedNumber
from sandboxes.aftership import AfterShipState
from sandboxes.dhl import DhlState
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_17track import TRACKER_EPOCH, Tracker, configure_tracking
from tests.helpers.sandbox_trackers import Sandbox, configure_aftership, configure_dhl
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.integration.test_admin_dashboard import post, sign_in
from tests.integration.test_admin_data import build_shop
from tests.integration.test_seventeen_track import Spreadsheet, register


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def three(runtime: Runtime, tracker: Tracker, aftership: Sandbox[AfterShipState],
          dhl: Sandbox[DhlState]) -> Runtime:
    """17TRACK (the default service), AfterShip and DHL all configured, on one clock."""
    clock = FrozenClock(TRACKER_EPOCH)
    runtime.clock = tracker.state.clock = aftership.state.clock = dhl.state.clock = clock
    configure_tracking(runtime, tracker)
    configure_aftership(runtime, aftership, service="17track")
    configure_dhl(runtime, dhl)
    return runtime


@pytest.fixture
def woo_store(three: Runtime, wc_sandbox: WooCommerceSandbox) -> int:
    from integration.accounts import stores

    key = wc_sandbox.store.create_key()
    return stores.add_woocommerce_store(three, wc_sandbox.url, key.consumer_key,
                                        key.consumer_secret, "hook-secret")


def ship_one(runtime: Runtime, sheet: Spreadsheet, wc: WooCommerceSandbox,
             number: str) -> None:
    product = wc.store.add_product("Mug", sku="MUG")
    order = wc.store.place_order([(product.id, 1)])
    sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship(number)


def services_of(runtime: Runtime) -> dict[str, str]:
    with runtime.db.read() as session:
        return {row.number: row.service for row in session.scalars(select(TrackedNumber))}


def test_each_parcel_goes_to_the_source_its_supplier_or_store_names(
        three: Runtime, tracker: Tracker, aftership: Sandbox[AfterShipState],
        dhl: Sandbox[DhlState], woo_store: int, wc_sandbox: WooCommerceSandbox,
        tmp_path: Path) -> None:
    from integration.sync.tracking.service import set_source

    sheets: dict[str, Spreadsheet] = {}
    with three.db.write() as session:
        set_source(session, session.get_one(Store, woo_store), "aftership")  # loses to theirs
    for name, source, number in (("default", None, "LX910000001CN"),
                                 ("aftership", "aftership", "LX910000002CN"),
                                 ("dhl", "dhl", "JJD000000000000009103"),
                                 ("own", "supplier", "LX910000004CN")):
        with three.db.write() as session:  # the next order goes to the next sheet
            for mapping in session.scalars(select(SkuMapping)):
                session.delete(mapping)
        sheets[name] = sheet = Spreadsheet(three, woo_store, tmp_path / name, name)
        if source is not None:
            with three.db.write() as session:
                set_source(session, session.get_one(Supplier, sheet.id), source)
        ship_one(three, sheet, wc_sandbox, number)
    register(three)
    # The store says AfterShip: its spreadsheet supplier without a choice follows the store.
    assert services_of(three) == {"LX910000001CN": "aftership", "LX910000002CN": "aftership",
                                  "JJD000000000000009103": "dhl"}
    assert tracker.state.tracked == {}
    assert {t.number for t in aftership.state.trackings.values()} == {
        "LX910000001CN", "LX910000002CN"}
    assert dhl.state.calls == {}  # DHL is asked at its poll, registering costs nothing
    with three.db.write() as session:  # back to the default: 17TRACK takes new parcels
        set_source(session, session.get_one(Store, woo_store), None)
    with three.db.write() as session:
        for mapping in session.scalars(select(SkuMapping)):
            session.delete(mapping)
    ship_one(three, Spreadsheet(three, woo_store, tmp_path / "later", "later"), wc_sandbox,
             "LX910000005CN")
    three.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    register(three)
    assert services_of(three)["LX910000005CN"] == "17track"
    assert services_of(three)["LX910000001CN"] == "aftership"  # stays: never paid twice
    assert set(tracker.state.tracked) == {"LX910000005CN"}


def test_the_owner_chooses_the_source_in_the_dashboard(three: Runtime,
                                                       client: FlaskClient) -> None:
    shop = build_shop(three)
    runtime = shop.runtime
    section = runtime.settings.tracking.model_copy(update={"aftership_key": ""})
    runtime.settings = runtime.settings.model_copy(update={"tracking": section})
    assert client.post(f"/admin/settings/tracking/store/{shop.store_id}",
                       data={"tracking_source": "dhl"}).status_code in (302, 400, 403)
    assert sign_in(client).status_code == 302
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "Which source tracks parcels" in page
    assert "AfterShip (not configured)" in page and ">DHL<" in page
    refused = post(client, f"/admin/settings/tracking/store/{shop.store_id}",
                   tracking_source="aftership").get_data(as_text=True)
    assert "Nothing was changed: AfterShip is not configured yet" in refused
    bogus = post(client, f"/admin/settings/tracking/store/{shop.store_id}",
                 tracking_source="pigeon").get_data(as_text=True)
    assert "Nothing was changed: the tracking source must be one of" in bogus
    saved = post(client, f"/admin/settings/tracking/supplier/{shop.supplier_id}",
                 tracking_source="dhl").get_data(as_text=True)
    assert "new parcels are tracked by DHL" in saved
    with runtime.db.read() as session:
        supplier = session.get_one(Supplier, shop.supplier_id)
        assert (supplier.settings or {}).get("tracking_source") == "dhl"
        assert session.scalar(select(AuditLog.action).where(
            AuditLog.action == "tracking.source_changed")) is not None
        assert (session.get_one(Store, shop.store_id).settings or {}).get(
            "tracking_source") is None  # nothing changed for the refused ones
    post(client, f"/admin/settings/tracking/supplier/{shop.supplier_id}",
         tracking_source="default")
    with runtime.db.read() as session:
        assert "tracking_source" not in (session.get_one(Supplier, shop.supplier_id).settings
                                         or {})


def test_the_owner_chooses_the_source_from_the_command_line(
        three: Runtime, tracker: Tracker, dhl: Sandbox[DhlState], woo_store: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from integration.cli.main import main

    settings = three.settings
    for name, value in (("DATABASE_URL", settings.database.url),
                        ("SECURITY_SECRET_KEY", settings.security.secret_key),
                        ("SECURITY_ENCRYPTION_KEYS", settings.security.encryption_keys[0]),
                        ("TRACKING_SEVENTEEN_TRACK_KEY", tracker.key),
                        ("TRACKING_SEVENTEEN_TRACK_URL", tracker.url),
                        ("TRACKING_DHL_KEY", settings.tracking.dhl_key),
                        ("TRACKING_DHL_URL", dhl.url)):
        monkeypatch.setenv(f"DROPTRACK_{name}", value)
    runner = CliRunner()
    chosen = runner.invoke(main, ["tracking", "source", "store", str(woo_store), "dhl"])
    assert chosen.exit_code == 0, chosen.output
    refused = runner.invoke(main, ["tracking", "source", "store", str(woo_store),
                                   "aftership"])
    assert refused.exit_code != 0 and "AfterShip is not configured yet" in refused.output
    listed = runner.invoke(main, ["tracking", "sources"])
    assert f"store\t{woo_store}\t" in listed.output and "chosen=dhl\tnow=dhl" in listed.output
    budget = runner.invoke(main, ["tracking", "quota", "dhl"])
    assert budget.exit_code == 0 and "remaining=250" in budget.output, budget.output
    back = runner.invoke(main, ["tracking", "source", "store", str(woo_store), "default"])
    assert back.exit_code == 0
    assert "chosen=default\tnow=17track" in runner.invoke(main, ["tracking", "sources"]).output
    run_jobs(three, "tracking.register")  # nothing queued: nothing breaks
