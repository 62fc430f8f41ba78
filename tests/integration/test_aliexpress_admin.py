"""Connecting AliExpress from the dashboard: the app's key and secret through the kind's
connect form (encrypted, never shown), the owner's authorization through the OAuth code flow
(the state bound to the session, used once), the account's state, the test button, and
linking a store SKU to an AliExpress product's SKU."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import SkuMapping, Supplier
from sandboxes.aliexpress import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from tests.conftest import make_settings
from tests.helpers.sandbox_aliexpress import AliExpressSandbox
from tests.integration.test_admin_dashboard import post, sign_in
from tests.integration.test_admin_data import Shop, build_shop


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True},
                         app={"public_url": "http://127.0.0.1:8000"})


def _approve(authorize_url: str, sandbox: AliExpressSandbox) -> dict[str, str]:
    """The owner signs in at AliExpress and allows DropTrack: the callback's query."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert requests.get(authorize_url, timeout=5).status_code == 200
    answer = requests.post(f"{sandbox.url}/oauth/authorize", data=query,
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/admin/suppliers/authorized"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_connect_authorize_test_and_link(client: FlaskClient, runtime: Runtime,
                                         aliexpress: AliExpressSandbox) -> None:
    shop: Shop = build_shop(runtime)
    aliexpress.state.clock = shop.runtime.clock
    assert client.post("/admin/suppliers/connect/aliexpress").status_code in (302, 400, 403)
    assert sign_in(client).status_code == 302
    page = post(client, "/admin/suppliers/connect/aliexpress", name="AliExpress",
                app_key=DEFAULT_APP_KEY, app_secret=DEFAULT_APP_SECRET, base_url=aliexpress.url)
    assert "AliExpress supplier AliExpress connected" in page.get_data(as_text=True)
    with runtime.db.read() as session:
        row = session.scalars(select(Supplier).where(Supplier.kind == "aliexpress")).one()
        assert DEFAULT_APP_SECRET not in (row.credentials_encrypted or "")
        supplier_id = row.id
    detail = client.get(f"/admin/suppliers/{supplier_id}").get_data(as_text=True)
    assert "not connected" in detail and DEFAULT_APP_SECRET not in detail

    # Connect: off to AliExpress's consent page, back with a code and our state.
    assert client.post(f"/admin/suppliers/{supplier_id}/authorize").status_code in (400, 403)
    start = client.post(f"/admin/suppliers/{supplier_id}/authorize", data={
        "csrf_token": _csrf(client, supplier_id)})
    assert start.status_code == 302
    authorize_url = start.headers["Location"]
    assert authorize_url.startswith(f"{aliexpress.url}/oauth/authorize?")
    callback = _approve(authorize_url, aliexpress)
    forged = client.get("/admin/suppliers/authorized", query_string={
        "code": callback["code"], "state": "forged"}, follow_redirects=True)
    assert "was not started here" in forged.get_data(as_text=True)
    # The forged try used up the pending state: start again, as an owner would.
    start = client.post(f"/admin/suppliers/{supplier_id}/authorize", data={
        "csrf_token": _csrf(client, supplier_id)})
    callback = _approve(start.headers["Location"], aliexpress)
    done = client.get("/admin/suppliers/authorized", query_string=callback,
                      follow_redirects=True).get_data(as_text=True)
    assert "AliExpress account owner@example.com connected" in done
    again = client.get("/admin/suppliers/authorized", query_string=callback,
                       follow_redirects=True).get_data(as_text=True)
    assert "was not started here" in again  # a state is used once
    with runtime.db.read() as session:
        stored = session.get_one(Supplier, supplier_id).credentials_encrypted or ""
    assert "access_token" not in stored  # encrypted at rest

    detail = client.get(f"/admin/suppliers/{supplier_id}").get_data(as_text=True)
    assert "Token expires" in detail and "calls a second" in detail
    tested = post(client, f"/admin/suppliers/{supplier_id}/test").get_data(as_text=True)
    assert "AliExpress answered a signed product lookup" in tested

    found = client.get(f"/admin/suppliers/{supplier_id}/link", query_string={
        "product": "https://www.aliexpress.com/item/4000903675543.html", "sku": "SUN-1",
        "store": str(shop.store_id)}).get_data(as_text=True)
    assert "Lenses Color: Black Green" in found and "73:175#Black Green;71:193#Polarized" in found
    post(client, "/admin/mappings", store=str(shop.store_id), sku="SUN-1",
         supplier=str(supplier_id),
         supplier_sku="4000903675543|73:175#Black Green;71:193#Polarized",
         supplier_product_id="4000903675543",
         supplier_variant_id="73:175#Black Green;71:193#Polarized")
    with runtime.db.read() as session:
        mapping = session.scalars(select(SkuMapping).where(SkuMapping.sku == "SUN-1")).one()
        assert (mapping.supplier_id, mapping.supplier_product_id,
                mapping.supplier_variant_id) == (
            supplier_id, "4000903675543", "73:175#Black Green;71:193#Polarized")
    unknown = client.get(f"/admin/suppliers/{supplier_id}/link",
                         query_string={"product": "123", "sku": "X"})
    assert unknown.status_code == 400 and "does not offer product 123" in unknown.get_data(
        as_text=True)

    aliexpress.state.revoke()
    failed = post(client, f"/admin/suppliers/{supplier_id}/test").get_data(as_text=True)
    assert "Connect the account again" in failed


def _csrf(client: FlaskClient, supplier_id: int) -> str:
    from tests.integration.test_admin_dashboard import token

    return token(client, f"/admin/suppliers/{supplier_id}")
