"""The spreadsheet supplier: orders out as a CSV batch, tracking back in, bad rows by line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.clock import FrozenClock
from core.domain import Address, OrderLine, Payment, StoreOrder
from integration.accounts import stores
from integration.cli.main import main
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, Shipment, SkuMapping, SupplierOrder
from integration.sync.suppliers.csv_exchange import (
    EXCHANGE_JOB,
    add_csv_supplier,
    export_batches,
    import_inbox,
    queue_exchanges,
)
from tests.helpers.jobs import run_jobs

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "to-supplier", tmp_path / "from-supplier"


@pytest.fixture
def supplier_id(runtime: Runtime, folders: tuple[Path, Path]) -> int:
    runtime.clock = FrozenClock(T0)
    store = stores.add_woocommerce_store(runtime, "https://csv.example", "ck", "cs", "whs")
    supplier = add_csv_supplier(runtime, "Yiwu Sheets", str(folders[0]), str(folders[1]))
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store, sku="MUG", supplier_sku="=HYPERLINK(1)",
                               supplier_id=supplier, created_at=T0))
        for number in ("100", "101"):
            import_order(session, store, StoreOrder(
                external_id=number, number=number, email=f"c{number}@example.com",
                payment=Payment.PAID, updated_at=T0, lines=(OrderLine("1", 3, sku="MUG"),),
                shipping_address=Address(name="Kim Park", address1="Invalidenstraße 116",
                                         city="Berlin", postcode="10115", country="DE")), T0)
    return supplier


def test_the_scheduler_only_queues_one_exchange_job_per_supplier(
        runtime: Runtime, supplier_id: int, folders: tuple[Path, Path], tmp_path: Path) -> None:
    """The sweep writes no file itself; each supplier's job writes its own batch and reads its
    own inbox, so the folders need to exist only where jobs run."""
    other = add_csv_supplier(runtime, "Other Sheets", str(tmp_path / "o-out"),
                             str(tmp_path / "o-in"))
    run_jobs(runtime, "supplier.forward")
    assert queue_exchanges(runtime) == 2
    assert queue_exchanges(runtime) == 0  # once per interval
    assert list(folders[0].glob("*.csv")) == []
    (folders[1] / "tracking.csv").write_text(
        "Reference,Tracking number,Carrier,Shipped at\nDT-1,LX123456785CN,China Post,\n")
    assert run_jobs(runtime, EXCHANGE_JOB) == 2
    assert len(list(folders[0].glob("orders-*.csv"))) == 1
    assert list((tmp_path / "o-out").glob("*.csv")) == []  # nothing waited for the other one
    with runtime.db.read() as session:
        assert [s.tracking_number for s in session.scalars(select(Shipment))] == ["LX123456785CN"]
    assert other != supplier_id


def test_orders_go_out_once_in_a_batch_and_tracking_comes_back(
        runtime: Runtime, supplier_id: int, folders: tuple[Path, Path]) -> None:
    run_jobs(runtime, "supplier.forward")
    [batch] = export_batches(runtime)
    assert export_batches(runtime) == []  # nothing new: no second file with the same orders
    rows = list(csv.DictReader(io.StringIO(batch.read_text())))
    assert [(r["Reference"], r["Order"], r["Quantity"], r["Country"]) for r in rows] == [
        ("DT-1", "100", "3", "DE"), ("DT-2", "101", "3", "DE")]
    assert rows[0]["SKU"] == "'=HYPERLINK(1)"  # never a live formula in a spreadsheet
    with runtime.db.read() as session:
        assert {so.status for so in session.scalars(select(SupplierOrder))} == {"forwarded"}
    (folders[1] / "tracking.csv").write_text(
        "Reference,Tracking number,Carrier,Shipped at\n"
        "DT-1,LX123456785CN,China Post,2026-11-21\n"
        "DT-9,LY876543216CN,,\n"
        "DT-2,,,\n"
        "DT-2,YT2229521272164446,,21/11/2026\n"
        "DT-2,YT2229521272164446,,\n")
    assert import_inbox(runtime) == 2
    errors = (folders[1] / "imported" / "tracking.errors.txt").read_text().splitlines()
    assert errors == ["line 3: unknown reference 'DT-9'", "line 4: tracking number is empty",
                      "line 5: shipped at '21/11/2026' is not a date (use YYYY-MM-DD or "
                      "YYYY-MM-DDTHH:MM:SS)"]
    assert not (folders[1] / "tracking.csv").exists()
    with runtime.db.read() as session:
        parcels = {s.tracking_number: s for s in session.scalars(select(Shipment))}
        statuses = sorted(o.status for o in session.scalars(select(Order)))
    assert parcels["LX123456785CN"].carrier == "China Post / ePacket"
    assert parcels["YT2229521272164446"].carrier == "YunExpress"
    assert statuses == ["info_received", "info_received"]


def test_cli_import_reports_bad_rows(runtime: Runtime, supplier_id: int,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings = runtime.settings
    monkeypatch.setenv("DROPTRACK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("DROPTRACK_SECURITY_SECRET_KEY", settings.security.secret_key)
    monkeypatch.setenv("DROPTRACK_SECURITY_ENCRYPTION_KEYS", settings.security.encryption_keys[0])
    Path("t.csv").write_text("Reference,Carrier\nDT-1,UPS\n")
    result = CliRunner().invoke(main, ["suppliers", "import-tracking", str(supplier_id),
                                       "t.csv"])
    assert result.exit_code == 1
    assert "line 1: missing column(s) Tracking number" in result.output
