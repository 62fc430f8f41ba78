"""Suppliers and SKU mappings from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from integration.accounts import stores
from integration.base.config import Settings
from integration.cli.main import main
from integration.kernel.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers.sandbox_supplier import SupplierSandbox


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def cli_env(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPTRACK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("DROPTRACK_SECURITY_SECRET_KEY", settings.security.secret_key)
    monkeypatch.setenv("DROPTRACK_SECURITY_ENCRYPTION_KEYS", settings.security.encryption_keys[0])
    monkeypatch.setenv("DROPTRACK_SECURITY_ALLOW_LOOPBACK_HTTP", "true")


def test_add_supplier_registers_push(cli_env: None, supplier_sandbox: SupplierSandbox) -> None:
    result = CliRunner().invoke(main, ["suppliers", "add-rest", "--name", "Ref", "--url",
                                       supplier_sandbox.url, "--api-key",
                                       supplier_sandbox.api_key])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1"
    assert "/webhooks/suppliers/1" in result.output
    assert len(supplier_sandbox.state.push.subscriptions) == 1
    listing = CliRunner().invoke(main, ["suppliers", "list"]).output
    assert "1\trest\tRef\tactive" in listing
    bad = CliRunner().invoke(main, ["suppliers", "add-rest", "--name", "Evil", "--url",
                                    "https://10.0.0.1/api", "--api-key", "k"])
    assert bad.exit_code == 1 and "private or reserved" in bad.output


def test_mappings_round_trip_with_a_bad_row(cli_env: None, runtime: Runtime,
                                            supplier_sandbox: SupplierSandbox,
                                            tmp_path: object) -> None:
    store_id = stores.add_shopify_store(runtime, "map.myshopify.com", "t", "s")
    CliRunner().invoke(main, ["suppliers", "add-rest", "--name", "Ref", "--url",
                              supplier_sandbox.url, "--api-key", supplier_sandbox.api_key,
                              "--no-push"])
    csv_text = ("sku,supplier,supplier_sku,destination_country,backup_supplier\n"
                "LAMP,Ref,SZ-LAMP,,\n"
                "MUG,Nobody,X,,\n"
                "LAMP,ref,SZ-LAMP-US,US,\n"
                "CASE,1,,ZZ,\n"
                ",Ref,,,\n")
    with open("mappings.csv", "w", encoding="utf-8") as handle:
        handle.write(csv_text)
    result = CliRunner().invoke(main, ["mappings", "import", "--store", str(store_id),
                                       "mappings.csv"])
    assert result.exit_code == 1
    assert "line 3: unknown supplier 'Nobody'" in result.output
    assert "line 5: destination_country 'ZZ' is not a two-letter country code" in result.output
    assert "line 6: sku is empty" in result.output
    assert "2 created, 0 updated, 3 rejected" in result.output
    exported = CliRunner().invoke(main, ["mappings", "export", "--store", str(store_id)]).output
    assert exported.splitlines() == [
        "sku,supplier,supplier_sku,destination_country,backup_supplier,product_id,variant_id,"
        "supplier_product_id,supplier_variant_id,max_unit_price",
        "LAMP,Ref,SZ-LAMP,,,,,,,", "LAMP,Ref,SZ-LAMP-US,US,,,,,,"]
    with open("again.csv", "w", encoding="utf-8") as handle:
        handle.write(exported)
    again = CliRunner().invoke(main, ["mappings", "import", "--store", str(store_id),
                                      "again.csv"])
    assert again.exit_code == 0 and "0 created, 2 updated, 0 rejected" in again.output


def test_mappings_hold_the_suppliers_own_ids_and_the_price_limit(
        runtime: Runtime, supplier_sandbox: SupplierSandbox) -> None:
    from integration.accounts.suppliers import add_rest_supplier
    from integration.engine.mappings import export_csv, import_csv

    store_id = stores.add_shopify_store(runtime, "ids.myshopify.com", "t", "s")
    add_rest_supplier(runtime, "CJ", supplier_sandbox.url, supplier_sandbox.api_key)
    text = ("sku,supplier,supplier_product_id,supplier_variant_id,max_unit_price\n"
            "MUG,CJ,P-1,439FC05B-1311,12.5\n"
            "TEE,CJ,1005001,14:193#Black;5:100014064,abc\n"
            "CAP,CJ,1005002,14:29,-1\n")
    with runtime.db.write() as session:
        report = import_csv(session, store_id, text, runtime.clock.now())
    assert report.created == 1
    assert report.errors == ["line 3: max_unit_price 'abc' is not a positive amount (e.g. 12.50)",
                             "line 4: max_unit_price '-1' is not a positive amount (e.g. 12.50)"]
    with runtime.db.read() as session:
        exported = export_csv(session, store_id).splitlines()
    assert exported[1] == "MUG,CJ,,,,,,P-1,439FC05B-1311,12.50"
