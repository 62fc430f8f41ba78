"""CJdropshipping as a supplier kind: the owner's API key (encrypted at rest, with the tokens
it buys), the connector, the account's state and the test button.

Credentials JSON (encrypted in `suppliers.credentials_encrypted`): `api_key` and, once bought,
`tokens` (`connectors.suppliers.cjdropshipping.mapper.Tokens.as_json`). Settings JSON:
`base_url`, `pay_from_balance`, `from_country`, `requests_per_second`, `timeout_seconds`.
The account's budget is shared under `cj:<hash of the key>` (CJ's limits are per account).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from connectors.suppliers.base import SupplierConnector
from connectors.suppliers.cjdropshipping.client import CJSupplier
from connectors.suppliers.cjdropshipping.mapper import Tokens, parse_tokens, product_id_from
from connectors.suppliers.cjdropshipping.settings import BASE_URL, CJSettings
from connectors.url_safety import UnsafeURLError, check_outbound_url
from core.errors import PermanentError, RetryableError
from integration.accounts.audit import record_audit
from integration.accounts.supplier_kinds import (
    FormField,
    SupplierError,
    SupplierKind,
    VariantChoice,
)
from integration.kernel.runtime import Runtime
from integration.storage.models import Supplier

CJ = "cj"
log = logging.getLogger(__name__)


def _credentials(runtime: Runtime, supplier: Supplier) -> dict[str, Any]:
    data = runtime.secrets.decrypt_json(supplier.credentials_encrypted or "")
    return dict(data) if isinstance(data, dict) else {}


def limit_key(api_key: str) -> str:
    return "cj:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _check(runtime: Runtime, supplier: Supplier) -> None:
    try:
        check_outbound_url(str(supplier.settings.get("base_url", BASE_URL)),
                           allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise SupplierError(f"supplier {supplier.name}: {exc}") from None


def settings_of(runtime: Runtime, supplier: Supplier) -> CJSettings:
    values = supplier.settings
    return CJSettings(
        api_key=str(_credentials(runtime, supplier).get("api_key", "")),
        base_url=str(values.get("base_url", BASE_URL)),
        pay_from_balance=bool(values.get("pay_from_balance", False)),
        from_country=str(values.get("from_country", "CN")),
        requests_per_second=float(values.get("requests_per_second", 1.0)),
        timeout_seconds=float(values.get("timeout_seconds", 20.0)),
        ca_bundle=values.get("ca_bundle") or None)


def _save_tokens(runtime: Runtime, supplier_id: int, tokens: Tokens) -> None:
    """Keep the tokens CJ issued (encrypted) so that every worker uses them."""
    with runtime.db.write() as session:
        row = session.get_one(Supplier, supplier_id)
        credentials = _credentials(runtime, row)
        credentials["tokens"] = tokens.as_json()
        row.credentials_encrypted = runtime.secrets.encrypt_json(credentials)


def _load_tokens(runtime: Runtime, supplier_id: int) -> Tokens | None:
    with runtime.db.read() as session:
        row = session.get(Supplier, supplier_id)
        return parse_tokens(_credentials(runtime, row).get("tokens")) if row else None


def connect(runtime: Runtime, supplier: Supplier) -> CJSupplier:
    from integration.limits.choice import supplier_limiter

    settings = settings_of(runtime, supplier)
    supplier_id = supplier.id
    return CJSupplier(settings, limiter=supplier_limiter(runtime.settings),
                      limit_key=limit_key(settings.api_key),
                      tokens=parse_tokens(_credentials(runtime, supplier).get("tokens")),
                      save_tokens=lambda tokens: _save_tokens(runtime, supplier_id, tokens),
                      load_tokens=lambda: _load_tokens(runtime, supplier_id),
                      now=runtime.clock.now)


def _connect(runtime: Runtime, supplier: Supplier) -> SupplierConnector:
    return connect(runtime, supplier)


def add(runtime: Runtime, name: str, values: Mapping[str, str]) -> int:
    name, api_key = name.strip(), values.get("api_key", "").strip()
    if not name:
        raise SupplierError("the supplier needs a name")
    if not api_key or "@api@" not in api_key:
        raise SupplierError("enter the CJ API key (it looks like CJ1234567@api@ followed by "
                            "32 letters and digits; My CJ → Authorization → API)")
    base_url = values.get("base_url", "").strip().rstrip("/") or BASE_URL
    try:
        base_url = check_outbound_url(base_url,
                                      allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise SupplierError(str(exc)) from None
    now = runtime.clock.now()
    supplier = Supplier(
        name=name, kind=CJ, active=True, created_at=now,
        # The callback URL's token: CJ signs nothing (webhooks/cj.py).
        webhook_secret_encrypted=runtime.secrets.encrypt(secrets.token_urlsafe(32)),
        settings={"base_url": base_url,
                  "pay_from_balance": values.get("pay_from_balance") == "1",
                  "from_country": (values.get("from_country") or "CN").strip().upper()[:2]},
        credentials_encrypted=runtime.secrets.encrypt_json({"api_key": api_key}))
    try:
        with runtime.db.write() as session:
            session.add(supplier)
            session.flush()
            record_audit(session, now, "admin", "supplier.added", subject=f"{CJ}:{name}")
    except IntegrityError:
        raise SupplierError(f"a supplier named {name!r} already exists") from None
    register_webhooks(runtime, supplier.id)
    return supplier.id


def callback_url(runtime: Runtime, supplier: Supplier) -> str:
    token = runtime.secrets.decrypt(supplier.webhook_secret_encrypted or "")
    return f"{runtime.settings.app.public_url.rstrip('/')}/webhooks/cj/{supplier.id}/{token}"


def register_webhooks(runtime: Runtime, supplier_id: int) -> bool:
    """Ask CJ to push ORDER and LOGISTIC messages (a hint to poll sooner). CJ accepts only a
    public https callback: without one, or when CJ refuses, DropTrack polls (it always does)."""
    if not runtime.settings.app.public_url.startswith("https://"):
        return False
    with runtime.db.read() as session:
        supplier = session.get_one(Supplier, supplier_id)
        session.expunge(supplier)
    url = callback_url(runtime, supplier)
    connector = connect(runtime, supplier)
    try:
        connector.set_webhooks(url)
    except (PermanentError, RetryableError) as exc:
        log.warning("CJ supplier %s: push not registered (%s); polling only", supplier_id, exc)
        return False
    finally:
        connector.close()
    return True


def account_state(runtime: Runtime, supplier: Supplier) -> dict[str, str]:
    """What the Suppliers page shows, from what is stored (no call to CJ)."""
    from integration.limits.choice import supplier_limiter

    credentials = _credentials(runtime, supplier)
    tokens = parse_tokens(credentials.get("tokens"))
    state = {"Access token": f"valid until {tokens.access_expires_at:%Y-%m-%d %H:%M} UTC"
             if tokens else "not yet issued (the first call gets one)",
             "Refresh token": f"valid until {tokens.refresh_expires_at:%Y-%m-%d} UTC"
             if tokens else "-",
             "Pays from CJ balance": "yes" if supplier.settings.get("pay_from_balance")
             else "no: orders wait for you to pay them at CJ"}
    paused = supplier_limiter(runtime.settings).remaining_pause(
        limit_key(str(credentials.get("api_key", ""))))
    state["Request budget"] = (f"paused for {paused / 60:.0f} min (CJ's limit reached)"
                               if paused > 0 else
                               f"{supplier.settings.get('requests_per_second', 1.0)} "
                               "requests per second available")
    return state


def test(runtime: Runtime, supplier: Supplier) -> str:
    """The test button: a token and the balance."""
    _check(runtime, supplier)
    connector = connect(runtime, supplier)
    try:
        balance = connector.balance()
    except (PermanentError, RetryableError) as exc:
        raise SupplierError(f"CJ did not answer as expected: {exc}") from None
    finally:
        connector.close()
    shown = "not given" if balance is None else f"{balance:.2f} USD"
    return f"Connected to CJ. Balance: {shown}."


def find_variants(runtime: Runtime, supplier: Supplier, product: str) -> list[VariantChoice]:
    pid = product_id_from(product)
    if pid is None:
        raise SupplierError("enter the CJ product id (digits) or paste the product page's "
                            "address (…-p-<id>.html)")
    connector = connect(runtime, supplier)
    try:
        variants = connector.product_variants(pid)
    except PermanentError as exc:
        raise SupplierError(f"CJ does not know product {pid} ({exc})") from None
    except RetryableError as exc:
        raise SupplierError(f"CJ is busy, try again in a moment ({exc})") from None
    finally:
        connector.close()
    if not variants:
        raise SupplierError(f"CJ product {pid} has no variants")
    return [VariantChoice(product_id=v.pid or pid, variant_id=v.vid, label=v.name or v.sku,
                          supplier_sku=v.sku, price="" if v.price is None else f"{v.price}")
            for v in variants]


KIND = SupplierKind(
    name=CJ, label="CJdropshipping", connect=_connect, check=_check, carrier_events=False,
    form=(FormField("api_key", "API key", secret=True,
                    hint="My CJ → Authorization → API → API Key"),
          FormField("from_country", "Ships from (warehouse country)", required=False,
                    default="CN"),
          FormField("pay_from_balance", "Pay orders from my CJ balance", required=False,
                    choice=True)),
    add=add, describe=lambda supplier: str(supplier.settings.get("base_url", BASE_URL)),
    account_state=account_state, test=test, find_variants=find_variants)
