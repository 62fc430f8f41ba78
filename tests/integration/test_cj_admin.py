"""Connecting CJdropshipping from the dashboard (the kind registry's connect form): the key
encrypted at rest and never shown, the account's state, the test button, and linking a
store SKU to a CJ variant found by product URL; the form needs a login and its CSRF token."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.base.config import Settings
from integration.storage.models import SkuMapping, Supplier
from tests.conftest import make_settings
from tests.helpers.sandbox_cj import MUG_BLACK, CJSandbox
from tests.integration.test_admin_dashboard import post, sign_in, token
from tests.integration.test_admin_data import Shop, build_shop


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """CJ's API host resolves to a public address (no DNS in the test)."""
    from functools import partial

    from connectors.url_safety import check_outbound_url
    from integration.accounts import cj

    monkeypatch.setattr(cj, "check_outbound_url", partial(
        check_outbound_url, resolver=lambda host, port: [
            host if host[0].isdigit() else "93.184.215.14"]))


def test_connect_cj_test_it_and_link_a_sku_to_a_variant(
        client: FlaskClient, runtime: object, cj_sandbox: CJSandbox, public_dns: None) -> None:
    shop: Shop = build_shop(runtime)  # type: ignore[arg-type]
    cj_sandbox.state.clock = shop.runtime.clock
    anonymous = client.post("/admin/suppliers/connect/cj", data={"name": "CJ"})
    assert anonymous.status_code in (302, 400, 403)
    assert sign_in(client).status_code == 302
    no_csrf = client.post("/admin/suppliers/connect/cj", data={
        "name": "CJ", "api_key": cj_sandbox.api_key, "base_url": cj_sandbox.url})
    assert no_csrf.status_code in (400, 403)
    bad = client.post("/admin/suppliers/connect/cj", data={
        "name": "CJ", "api_key": "not-a-key", "csrf_token": token(client, "/admin/suppliers")})
    assert bad.status_code == 400 and "enter the CJ API key" in bad.get_data(as_text=True)

    page = post(client, "/admin/suppliers/connect/cj", name="CJ", api_key=cj_sandbox.api_key)
    text = page.get_data(as_text=True)
    assert "CJdropshipping supplier CJ connected" in text and cj_sandbox.api_key not in text
    with shop.runtime.db.write() as session:
        row = session.scalars(select(Supplier).where(Supplier.kind == "cj")).one()
        assert cj_sandbox.api_key not in (row.credentials_encrypted or "")
        row.settings = {**row.settings, "base_url": cj_sandbox.url}  # (the sandbox's address)
        supplier_id = row.id
    detail = client.get(f"/admin/suppliers/{supplier_id}").get_data(as_text=True)
    assert "not yet issued" in detail and "Pays from CJ balance" in detail
    tested = post(client, f"/admin/suppliers/{supplier_id}/test").get_data(as_text=True)
    assert "Connected to CJ. Balance: 500.00 USD." in tested
    assert "valid until" in tested  # the token the test bought, with its expiry

    url = "https://cjdropshipping.com/product/ceramic-mug-p-1424608189734850560.html"
    found = client.get(f"/admin/suppliers/{supplier_id}/link", query_string={
        "product": url, "sku": "LAMP-9", "store": str(shop.store_id)})
    listing = found.get_data(as_text=True)
    assert found.status_code == 200 and "Ceramic mug black" in listing
    post(client, "/admin/mappings", store=str(shop.store_id), sku="LAMP-9",
         supplier=str(supplier_id), supplier_sku="CJMUG001-BLACK",
         supplier_product_id="1424608189734850560", supplier_variant_id=MUG_BLACK)
    with shop.runtime.db.read() as session:
        mapping = session.scalars(select(SkuMapping).where(SkuMapping.sku == "LAMP-9")).one()
        assert (mapping.supplier_id, mapping.supplier_variant_id) == (supplier_id, MUG_BLACK)
    unknown = client.get(f"/admin/suppliers/{supplier_id}/link",
                         query_string={"product": "9999999999", "sku": "X"})
    assert unknown.status_code == 400 and "does not know product" in unknown.get_data(
        as_text=True)
    nonsense = client.get(f"/admin/suppliers/{supplier_id}/link",
                          query_string={"product": "https://evil.example/x", "sku": "X"})
    assert nonsense.status_code == 400
