"""Set the demo up the way an owner would: install DropTrack into both stores through their real
flows (driven over HTTP, as a browser follows them), add the suppliers, the products and the
SKU mappings, and create the owner's dashboard login."""

from __future__ import annotations

import html
import re
import secrets
import ssl
from dataclasses import dataclass, replace
from urllib.parse import urljoin

import httpx
from sqlalchemy import select

from connectors.shopify.tokens import Credentials
from connectors.suppliers.rest.client import RestSupplier
from connectors.woocommerce.settings import merged
from demo.sandboxes import Sandboxes
from demo.workspace import OWNER_EMAIL, SUPPLIER_API_KEY, DemoSecrets, Workspace
from integration.accounts import cj, stores, suppliers
from integration.accounts import owners as accounts
from integration.engine import bindings
from integration.engine.forwarding import SUPPLIER_ORDER
from integration.engine.mappings import import_csv
from integration.kernel.runtime import Runtime
from integration.storage.accounts import User
from integration.storage.models import Binding, Store, Supplier
from integration.sync.suppliers.csv_exchange import add_csv_supplier
from integration.sync.writeback import store_access
from sandboxes.cj import DEFAULT_API_KEY as CJ_API_KEY
from sandboxes.shopify.oauth import signed_install_url

SHOP_NAME = "demo-outfitters"
SHOPIFY_DOMAIN = f"{SHOP_NAME}.myshopify.com"
REST_SUPPLIER = "Reference Supplier (REST)"
CSV_SUPPLIER = "Spreadsheet Supplier (CSV)"
ALIEXPRESS_SUPPLIER = "AliExpress"
CJ_SUPPLIER = "CJdropshipping"
HTTP_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
WOOCOMMERCE_NAME = "Demo Home & Garden (WooCommerce)"


class SetupError(RuntimeError):
    """A step of the demo's setup failed; the message says which and why."""


@dataclass(frozen=True)
class Product:
    """One product sold in the stores: its store SKU, the supplier and the supplier's SKU."""

    sku: str
    title: str
    price: str
    supplier: str
    supplier_sku: str
    supplier_variant_id: str = ""  # CJ's vid


PRODUCTS = (
    Product("MUG-11", "Ceramic mug 11 oz", "14.00", REST_SUPPLIER, "MUG-CERAMIC-11OZ"),
    Product("TEE-M", "Black tee, M", "22.00", REST_SUPPLIER, "TEE-BLACK-M"),
    Product("CASE-15", "Clear iPhone 15 case", "12.50", REST_SUPPLIER, "CASE-IPHONE15-CLEAR"),
    Product("LAMP-SUN", "Sunset lamp", "39.00", REST_SUPPLIER, "LAMP-SUNSET-02"),
    Product("TOTE", "Canvas tote bag", "18.00", REST_SUPPLIER, "BAG-TOTE-CANVAS"),  # 0 in stock
    Product("CANDLE", "Soy candle (handmade)", "16.00", CSV_SUPPLIER, "CANDLE-SOY-200G"),
    Product("POSTER", "Art print A3", "24.00", CSV_SUPPLIER, "PRINT-A3-WAVES"),
    Product("MUG-ENAMEL", "Ceramic mug, white", "13.00", CJ_SUPPLIER, "CJMUG001-WHITE",
            "439FC05B-1311-4349-87FA-1E1EF942C418"),
    # From AliExpress (product_id|sku_attr): the delivered story of customers with a state.
    Product("SUNGLASSES", "Polarized sunglasses", "19.00", ALIEXPRESS_SUPPLIER,
            "4000903675543|73:175#Black Green;71:193#Polarized"),
)
OUT_OF_STOCK_SKU = "TOTE"


@dataclass(frozen=True)
class Connected:
    shopify_store_id: int
    woocommerce_store_id: int
    woocommerce_products: dict[str, int]  # store SKU -> WooCommerce product id


def _form_action(page: str) -> str:
    found = re.search(r'<form[^>]*\baction="([^"]*)"', page)
    if found is None:
        raise SetupError("the Shopify consent page has no form")
    return html.unescape(found.group(1))


def _approve_link(page: str) -> str:
    found = re.search(r'<a[^>]*href="([^"]*)"[^>]*class="[^"]*wc-auth-approve', page)
    if found is None:
        raise SetupError("the WooCommerce consent page has no Approve link")
    return html.unescape(found.group(1))


def install_shopify(runtime: Runtime, sandboxes: Sandboxes) -> int:
    """The merchant installs DropTrack from the Shopify admin and clicks "Install app"."""
    state = sandboxes.shopify.state
    app = runtime.settings.shopify
    public = runtime.settings.app.public_url
    if app.client_id not in state.apps:
        state.create_app(name="DropTrack", client_id=app.client_id,
                         client_secret=app.client_secret,
                         redirect_urls=[public + "/shopify/callback"])
    if state.shop(SHOPIFY_DOMAIN) is None:
        state.create_shop(SHOP_NAME, email=f"hello@{SHOPIFY_DOMAIN}")
    link = signed_install_url(public, SHOPIFY_DOMAIN, app.client_secret,
                              timestamp=int(runtime.clock.now().timestamp()))
    with httpx.Client(follow_redirects=True, timeout=HTTP_TIMEOUT) as browser:
        consent = browser.get(link)
        if consent.status_code != 200:
            raise SetupError(f"Shopify install: the consent page answered {consent.status_code}")
        done = browser.post(urljoin(str(consent.url), _form_action(consent.text)))
    if done.status_code != 200 or 'id="installed"' not in done.text:
        raise SetupError(f"Shopify install: DropTrack answered {done.status_code}")
    with runtime.db.read() as session:
        store = stores.find_shopify_store(session, SHOPIFY_DOMAIN)
        if store is None:
            raise SetupError("Shopify install: no store was connected")
        store_id = store.id
    keep_shopify_token(runtime, sandboxes, store_id)
    return store_id


def keep_shopify_token(runtime: Runtime, sandboxes: Sandboxes, store_id: int) -> None:
    """Make the installed access token non-expiring, in the sandbox and in DropTrack.

    Shopify's offline tokens expire after an hour, which at demo speed is a second or two of
    real time: DropTrack's threads would keep renewing it at once and race each other for the
    single-use refresh token. The demo shop therefore issues a token that does not expire (as
    Shopify's non-expiring offline tokens do); the install flow itself stays the real one.
    """
    with runtime.db.read() as session:
        store = session.get_one(Store, store_id)
        session.expunge(store)
    access = store_access(runtime, store)
    credentials = Credentials.from_dict(access.credentials)
    state = sandboxes.shopify.state
    with state.lock:
        token = state.tokens.get(credentials.access_token)
        if token is None:
            raise SetupError("Shopify install: the sandbox does not know DropTrack's token")
        token.expires_at = None
    access.save_credentials(replace(credentials, expires_at="").as_dict())


def connect_woocommerce(runtime: Runtime, sandboxes: Sandboxes, workspace: Workspace,
                        https_url: str) -> int:
    """The owner enters the store's address in DropTrack and approves the key request.

    WooCommerce sends the keys only to an https callback, so the owner does this on
    DropTrack's https address (`https_url`, served with the demo's CA): DropTrack then names
    that address as the callback. Over the plain http dashboard it would refuse, saying why.
    A resumed demo's sandbox store may listen on another port (the old one was taken): the
    store DropTrack knows moves to the new address first, so the flow reconnects it instead
    of adding a second store."""
    public = https_url
    address = stores.normalize_store_url(sandboxes.woocommerce_url)
    with runtime.db.write() as session:
        known = session.scalars(select(Store).where(Store.platform == stores.WOOCOMMERCE,
                                                    Store.name == WOOCOMMERCE_NAME)).first()
        if known is not None and known.domain != address:
            known.domain = address
    trust = ssl.create_default_context(cafile=str(workspace.ca_file))
    with httpx.Client(follow_redirects=True, timeout=HTTP_TIMEOUT, verify=trust) as browser:
        confirm = browser.get(f"{public}/woocommerce/connect",
                              params={"store_url": sandboxes.woocommerce_url})
        token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
        if confirm.status_code != 200 or token is None:
            raise SetupError(f"WooCommerce connect: the confirmation page answered "
                             f"{confirm.status_code}")
        consent = browser.post(f"{public}/woocommerce/connect", data={
            "store_url": sandboxes.woocommerce_url, "confirm": "yes",
            "csrf_token": token.group(1)})
        if consent.status_code != 200:
            raise SetupError(f"WooCommerce connect: the consent page answered "
                             f"{consent.status_code}")
        done = browser.get(urljoin(str(consent.url), _approve_link(consent.text)))
    found = re.search(r'data-store-id="(\d+)"', done.text)
    if done.status_code != 200 or found is None:
        raise SetupError(f"WooCommerce connect: DropTrack answered {done.status_code}")
    store_id = int(found.group(1))
    with runtime.db.write() as session:
        store = session.get_one(Store, store_id)
        store.name = WOOCOMMERCE_NAME
        # DropTrack trusts the sandbox's throwaway CA for this store only.
        store.settings = merged(store.settings or {}, ca_bundle=str(workspace.ca_file))
    return store_id


def add_suppliers(runtime: Runtime, sandboxes: Sandboxes, workspace: Workspace) -> str:
    """The REST supplier (with push updates, as `droptrack suppliers add-rest` sets it up) and
    the spreadsheet supplier. Returns the REST supplier's name.

    A resumed demo keeps the same REST supplier: the reference supplier's sandbox restarts
    empty, so DropTrack's row gets the new sandbox's address and a new push subscription, and
    the sandbox numbers its orders after the ones DropTrack already knows (a new order never
    takes an old order's id, and so never its tracking number). Parcels that were in flight
    stop updating (the new sandbox does not know them)."""
    secret = secrets.token_urlsafe(32)
    with runtime.db.write() as session:
        existing = {row.name: row for row in session.scalars(select(Supplier))}
        kept = existing.get(REST_SUPPLIER)
        if kept is not None:
            kept.active = True
            kept.settings = {**(kept.settings or {}), "base_url": sandboxes.supplier_url}
            kept.webhook_secret_encrypted = runtime.secrets.encrypt(secret)
            supplier_id = kept.id
            known = session.scalars(select(Binding.external_id).where(
                Binding.owner_type == bindings.SUPPLIER, Binding.owner_id == kept.id,
                Binding.kind == SUPPLIER_ORDER))
            highest = max((int(i[2:]) for i in known if i.startswith("SO") and i[2:].isdigit()),
                          default=0)
    if kept is None:
        supplier_id = suppliers.add_rest_supplier(runtime, REST_SUPPLIER, sandboxes.supplier_url,
                                                  SUPPLIER_API_KEY, secret)
    else:
        sandboxes.supplier.continue_numbering_after(highest)
    with runtime.db.read() as session:
        row = session.get_one(Supplier, supplier_id)
        session.expunge(row)
    connector = suppliers.connector_for(runtime, row)
    try:
        if isinstance(connector, RestSupplier):
            connector.register_webhook(
                f"{runtime.settings.app.public_url}/webhooks/suppliers/{supplier_id}", secret)
    finally:
        connector.close()
    if CSV_SUPPLIER not in existing:
        add_csv_supplier(runtime, CSV_SUPPLIER, str(workspace.csv_outbox),
                         str(workspace.csv_inbox))
    add_cj_supplier(runtime, sandboxes, existing)
    add_aliexpress(runtime, sandboxes, existing.get(ALIEXPRESS_SUPPLIER))
    return REST_SUPPLIER


def add_cj_supplier(runtime: Runtime, sandboxes: Sandboxes,
                    existing: dict[str, Supplier]) -> None:
    """CJdropshipping through its connect form's handler, paying from the CJ balance. Its
    sandbox keeps orders in memory too: a resumed demo switches the old one off (as REST)."""
    if sandboxes.cj is None:
        return
    with runtime.db.write() as session:
        for row in session.scalars(select(Supplier).where(Supplier.kind == cj.CJ)):
            row.active = False
    runs = sum(1 for row in existing.values() if row.kind == cj.CJ)
    supplier_id = cj.add(runtime, CJ_SUPPLIER if runs == 0 else f"{CJ_SUPPLIER}, run {runs + 1}",
                         {"api_key": CJ_API_KEY, "base_url": sandboxes.cj_url,
                          "pay_from_balance": "1"})
    with runtime.db.write() as session:
        row = session.get_one(Supplier, supplier_id)
        row.settings = {**row.settings, "requests_per_second": 10.0}


def _current(runtime: Runtime, name: str) -> str:
    """The active supplier of a demo kind's base name (a resumed demo adds ", run N")."""
    with runtime.db.read() as session:
        found = session.scalars(select(Supplier.name).where(
            Supplier.name.startswith(name), Supplier.active.is_(True))
            .order_by(Supplier.id.desc())).first()
    return found or name


def add_aliexpress(runtime: Runtime, sandboxes: Sandboxes, existing: Supplier | None) -> None:
    """The AliExpress supplier, authorized as the owner would on AliExpress's consent page
    (the sandbox's authorize step), paying each order from the account at once. The sandbox
    forgets its accounts on restart: a resumed demo authorizes again."""
    from integration.accounts import aliexpress_kind
    from sandboxes.aliexpress import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

    if sandboxes.aliexpress is None or sandboxes.aliexpress_server is None:
        return
    if existing is None:
        aliexpress_kind.add_aliexpress_supplier(runtime, ALIEXPRESS_SUPPLIER, {
            "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
            "base_url": sandboxes.aliexpress_url, "auto_pay": "1"})
    with runtime.db.write() as session:
        row = session.scalars(select(Supplier).where(
            Supplier.name == ALIEXPRESS_SUPPLIER)).one()
        row.settings = {**row.settings, "base_url": sandboxes.aliexpress_url,
                        "ship_to_country": "GB"}
        session.flush()
        session.expunge(row)
    aliexpress_kind.complete_authorization(
        runtime, row, sandboxes.aliexpress.authorize(DEFAULT_APP_KEY))


def add_products(runtime: Runtime, sandboxes: Sandboxes, store_ids: tuple[int, ...],
                 rest_supplier: str) -> dict[str, int]:
    """The catalog in the WooCommerce store (Shopify's sandbox takes SKUs on the order) and the
    SKU mappings of both stores, imported as the owner's CSV."""
    woo = sandboxes.woocommerce
    product_ids = {product.sku: woo.add_product(product.title, sku=product.sku,
                                                price=float(product.price)).id
                   for product in PRODUCTS}
    names = {REST_SUPPLIER: rest_supplier, CJ_SUPPLIER: _current(runtime, CJ_SUPPLIER)}
    sheet = "sku,supplier,supplier_sku,supplier_variant_id\n" + "".join(
        f'{p.sku},"{names.get(p.supplier, p.supplier)}",{p.supplier_sku},'
        f"{p.supplier_variant_id}\n" for p in PRODUCTS)
    for store_id in store_ids:
        with runtime.db.write() as session:
            report = import_csv(session, store_id, sheet, runtime.clock.now())
        if report.errors:
            raise SetupError("SKU mappings: " + "; ".join(report.errors))
    return product_ids


def ensure_owner(runtime: Runtime, state: DemoSecrets) -> None:
    with runtime.db.write() as session:
        if session.scalar(select(User.id).where(User.email == OWNER_EMAIL)) is None:
            accounts.create_user(session, OWNER_EMAIL, state.owner_password,
                                 runtime.clock.now(), actor="demo")


def connect_everything(runtime: Runtime, sandboxes: Sandboxes, workspace: Workspace,
                       state: DemoSecrets, https_url: str) -> Connected:
    ensure_owner(runtime, state)
    shopify_id = install_shopify(runtime, sandboxes)
    woocommerce_id = connect_woocommerce(runtime, sandboxes, workspace, https_url)
    rest_supplier = add_suppliers(runtime, sandboxes, workspace)
    products = add_products(runtime, sandboxes, (shopify_id, woocommerce_id), rest_supplier)
    return Connected(shopify_id, woocommerce_id, products)
