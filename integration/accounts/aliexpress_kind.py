"""AliExpress as a supplier kind: the owner's Open Platform app (key and secret) and their
authorization of it (OAuth code flow), tokens encrypted at rest and renewed before expiry.

Credentials (encrypted JSON): `app_key`, `app_secret`, and once authorized `access_token`,
`refresh_token`, `access_expires_at`, `refresh_expires_at` (ISO 8601), `account`. Settings:
`base_url` (the gateway, checked against SSRF before every use), `auto_pay` (the owner allows
AliExpress to charge the account at once), `currency`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

from connectors.suppliers.aliexpress.client import AliExpressClient
from connectors.suppliers.aliexpress.connector import AliExpress
from connectors.suppliers.aliexpress.mapper import Tokens
from connectors.suppliers.aliexpress.settings import DEFAULT_BASE_URL, AliExpressSettings
from connectors.suppliers.base import SupplierAuthError, SupplierConnector
from connectors.url_safety import UnsafeURLError, check_outbound_url
from core.errors import RetryableError
from integration.accounts.audit import record_audit
from integration.accounts.supplier_kinds import (
    FormField,
    SupplierError,
    SupplierKind,
    VariantChoice,
    save_new_supplier,
)
from integration.kernel.runtime import Runtime
from integration.storage.models import Supplier

NAME = "aliexpress"
# FACTS §3: renew 2-3 days before expiry.
RENEW_BEFORE = timedelta(days=3)

FORM = (
    FormField("app_key", "App key", hint="From your app on openservice.aliexpress.com"),
    FormField("app_secret", "App secret", secret=True),
    FormField("base_url", "Gateway", required=False, default=DEFAULT_BASE_URL),
    FormField("auto_pay", "Pay each order from my AliExpress account at once",
              required=False, choice=True),
)


def _credentials(runtime: Runtime, supplier: Supplier) -> dict[str, Any]:
    return runtime.secrets.decrypt_json(supplier.credentials_encrypted or "")


def _base_url(runtime: Runtime, url: str) -> str:
    try:
        return check_outbound_url(url.rstrip("/") or DEFAULT_BASE_URL,
                                  allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise SupplierError(str(exc)) from None


def add_aliexpress_supplier(runtime: Runtime, name: str, values: Mapping[str, str]) -> int:
    name = name.strip()
    app_key, app_secret = values.get("app_key", "").strip(), values.get("app_secret", "").strip()
    if not name:
        raise SupplierError("the supplier needs a name")
    if not app_key or not app_secret:
        raise SupplierError("AliExpress needs the app key and the app secret of your app")
    base_url = _base_url(runtime, values.get("base_url", ""))
    now = runtime.clock.now()
    supplier = Supplier(
        name=name, kind=NAME, active=True, created_at=now,
        settings={"base_url": base_url, "auto_pay": values.get("auto_pay") == "1",
                  "currency": values.get("currency", "USD") or "USD"},
        credentials_encrypted=runtime.secrets.encrypt_json({"app_key": app_key,
                                                            "app_secret": app_secret}))
    return save_new_supplier(runtime, supplier, "owner")


def settings_for(runtime: Runtime, supplier: Supplier) -> AliExpressSettings:
    credentials = _credentials(runtime, supplier)
    return AliExpressSettings(
        app_key=str(credentials.get("app_key", "")),
        app_secret=str(credentials.get("app_secret", "")),
        access_token=str(credentials.get("access_token", "")),
        base_url=str(supplier.settings.get("base_url", DEFAULT_BASE_URL)),
        currency=str(supplier.settings.get("currency", "USD")),
        auto_pay=bool(supplier.settings.get("auto_pay", False)),
        requests_per_second=float(supplier.settings.get("requests_per_second", 5.0)))


def connector(runtime: Runtime, supplier: Supplier) -> AliExpress:
    from integration.limits.choice import supplier_limiter  # this process's (or shared) limits

    settings = settings_for(runtime, supplier)
    limiter = supplier_limiter(runtime.settings)
    clock = runtime.clock
    client = AliExpressClient(settings, limiter,
                              clock_ms=lambda: int(clock.now().timestamp() * 1000))
    return AliExpress(settings, limiter, client)


def _connect(runtime: Runtime, supplier: Supplier) -> SupplierConnector:
    return connector(runtime, supplier)


def _check(runtime: Runtime, supplier: Supplier) -> None:
    try:
        _base_url(runtime, str(supplier.settings.get("base_url", "")))
    except SupplierError as exc:
        raise SupplierError(f"supplier {supplier.name}: {exc}") from None


def _save_tokens(runtime: Runtime, supplier_id: int, tokens: Tokens, action: str) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        row = session.get_one(Supplier, supplier_id)
        credentials = runtime.secrets.decrypt_json(row.credentials_encrypted or "")
        credentials |= {
            "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
            "access_expires_at": tokens.access_expires_at.isoformat(),
            "refresh_expires_at": tokens.refresh_expires_at.isoformat()
            if tokens.refresh_expires_at else "",
            "account": tokens.account or str(credentials.get("account", ""))}
        row.credentials_encrypted = runtime.secrets.encrypt_json(credentials)
        record_audit(session, now, "owner" if action == "connected" else "scheduler",
                     f"supplier.{action}", subject=f"{NAME}:{row.name}")


def authorize_url(runtime: Runtime, supplier: Supplier, redirect_uri: str, state: str) -> str:
    with closing(connector(runtime, supplier)) as ae:
        return ae.authorize_url(redirect_uri, state)


def _authorized(runtime: Runtime, supplier: Supplier, code: str) -> str:
    tokens = complete_authorization(runtime, supplier, code)
    return (f"AliExpress account {tokens.account or tokens.user_id} connected; its token "
            f"is valid until {tokens.access_expires_at:%Y-%m-%d} and is renewed before then.")


def complete_authorization(runtime: Runtime, supplier: Supplier, code: str) -> Tokens:
    """The callback's code for tokens, saved encrypted. SupplierError when refused."""
    with closing(connector(runtime, supplier)) as ae:
        try:
            tokens = ae.exchange_code(code)
        except SupplierAuthError as exc:
            raise SupplierError(f"AliExpress refused the authorization: {exc}") from None
    _save_tokens(runtime, supplier.id, tokens, "connected")
    return tokens


def _expiry(credentials: Mapping[str, Any], key: str) -> datetime | None:
    value = str(credentials.get(key) or "")
    return datetime.fromisoformat(value) if value else None


def _needs_renewal(runtime: Runtime, supplier: Supplier) -> bool:
    credentials = _credentials(runtime, supplier)
    expires = _expiry(credentials, "access_expires_at")
    return bool(credentials.get("refresh_token")) and expires is not None and \
        expires - runtime.clock.now() < RENEW_BEFORE


def _renew(runtime: Runtime, supplier: Supplier) -> None:
    credentials = _credentials(runtime, supplier)
    refresh_token = str(credentials.get("refresh_token") or "")
    if not refresh_token:
        raise SupplierAuthError(f"{supplier.name}: the AliExpress account is not connected")
    with closing(connector(runtime, supplier)) as ae:
        tokens = ae.refresh(refresh_token)
    _save_tokens(runtime, supplier.id, tokens, "tokens_renewed")


def _state(runtime: Runtime, supplier: Supplier) -> dict[str, str]:
    credentials = _credentials(runtime, supplier)
    expires = _expiry(credentials, "access_expires_at")
    if expires is None:
        return {"Account": "not connected: use Connect AliExpress account"}
    from integration.limits.choice import supplier_limiter

    key = settings_for(runtime, supplier).limiter_key
    paused = supplier_limiter(runtime.settings).remaining_pause(key)
    return {"Account": str(credentials.get("account") or "connected"),
            "Token expires": expires.strftime("%Y-%m-%d %H:%M UTC"),
            "Budget": f"banned for {paused:.1f}s more (QPS limit)" if paused
            else f"up to {settings_for(runtime, supplier).requests_per_second:g} calls a "
                 "second",
            "Payment": "paid from the account at once" if supplier.settings.get("auto_pay")
            else "you pay each order at AliExpress"}


def _test(runtime: Runtime, supplier: Supplier) -> str:
    with closing(connector(runtime, supplier)) as ae:
        try:
            product, code = ae.product("1005004638293060", "US")
        except SupplierAuthError as exc:
            raise SupplierError(f"AliExpress refused the token: {exc}. Connect the account "
                                "again.") from None
    if product is None and code not in ("605", "602"):
        raise SupplierError(f"AliExpress answered, but the product lookup failed ({code})")
    return "AliExpress answered a signed product lookup with the account's token."


def product_id_from(text: str) -> str | None:
    """An AliExpress product id: digits, or the product page's address (…/item/<id>.html)."""
    text = text.strip()
    if text.isdigit():
        return text
    match = re.search(r"/item/(\d+)\.html", text)
    return match.group(1) if match else None


def find_variants(runtime: Runtime, supplier: Supplier, product: str) -> list[VariantChoice]:
    product_id = product_id_from(product)
    if product_id is None:
        raise SupplierError("enter the AliExpress product id (digits) or paste the product "
                            "page's address (…/item/<id>.html)")
    country = str(supplier.settings.get("ship_to_country", "US"))
    with closing(connector(runtime, supplier)) as ae:
        try:
            found, code = ae.product(product_id, country)
        except SupplierAuthError as exc:
            raise SupplierError(f"AliExpress refused the token ({exc}): connect the account "
                                "again") from None
        except RetryableError as exc:
            raise SupplierError(f"AliExpress is busy, try again in a moment ({exc})") from None
    if found is None:
        raise SupplierError(f"AliExpress does not offer product {product_id} "
                            f"({'unknown product' if code == '605' else code})")
    return [VariantChoice(product_id=found.product_id, variant_id=sku.sku_attr,
                          label=sku.description or sku.sku_attr or "the only variant",
                          supplier_sku=f"{found.product_id}|{sku.sku_attr}" if sku.sku_attr
                          else found.product_id,
                          price=f"{sku.price} {sku.currency}" if sku.price is not None else "")
            for sku in found.skus]


KIND = SupplierKind(
    name=NAME, label="AliExpress", connect=_connect, check=_check, form=FORM,
    add=add_aliexpress_supplier,
    describe=lambda supplier: str(supplier.settings.get("base_url", DEFAULT_BASE_URL)),
    account_state=_state, test=_test, needs_renewal=_needs_renewal, renew=_renew,
    authorize=authorize_url, authorized=_authorized, find_variants=find_variants)
