"""Connected stores: validated domains, encrypted credentials, webhook secrets with rotation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.url_safety import UnsafeURLError, check_url_form
from core.inputs import has_control_characters
from integration.accounts.audit import record_audit
from integration.kernel.runtime import Runtime
from integration.storage.models import Store

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"

# Store states. `disconnected`: its credentials were refused for good (e.g. a client secret
# rotated); its write-backs wait and resume when the owner connects it again.
ACTIVE = "active"
DISCONNECTED = "disconnected"
UNINSTALLED = "uninstalled"

_SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")


class StoreError(ValueError):
    """A store cannot be added or changed as asked; the message says why."""


@dataclass(frozen=True)
class StoreSummary:
    id: int
    platform: str
    domain: str
    state: str


def normalize_shop_domain(shop: str) -> str:
    """A Shopify shop domain, lower-cased; raises StoreError for anything else."""
    shop = shop.strip().lower()
    if not _SHOP_DOMAIN.fullmatch(shop):
        raise StoreError(f"{shop!r} is not a shop domain like your-store.myshopify.com")
    return shop


def normalize_store_url(url: str) -> str:
    """A WooCommerce site URL: http(s), a host, no credentials, query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise StoreError(f"{url!r}: the store URL must start with https:// (or http://)")
    if not parts.hostname:
        raise StoreError(f"{url!r}: the store URL has no host name")
    if parts.username or parts.password:
        raise StoreError(f"{url!r}: put the keys in --key/--secret, not in the URL")
    if parts.query or parts.fragment:
        raise StoreError(f"{url!r}: the store URL must not have a query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise StoreError(f"{url!r}: the port is not a number between 1 and 65535") from None
    if has_control_characters(url) or " " in url.strip():
        raise StoreError(f"{url!r}: the store URL has spaces or control characters")
    host = parts.hostname.lower()
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _require_secret(value: str, what: str) -> str:
    if not value or not value.strip():
        raise StoreError(f"{what} must not be empty")
    return value.strip()


def _add(runtime: Runtime, platform: str, domain: str, credentials: dict[str, str],
         webhook_secret: str) -> int:
    now = runtime.clock.now()
    store = Store(
        platform=platform, domain=domain, name=domain, state="active",
        credentials_encrypted=runtime.secrets.encrypt_json(credentials),
        webhook_secret_encrypted=runtime.secrets.encrypt(webhook_secret),
        settings={}, created_at=now, updated_at=now,
    )
    try:
        with runtime.db.write() as session:
            session.add(store)
            session.flush()
            record_audit(session, now, "cli", "store.added", store_id=store.id,
                         subject=f"{platform}:{domain}")
    except IntegrityError:
        raise StoreError(f"a {platform} store {domain} is already connected") from None
    return store.id


def add_shopify_store(runtime: Runtime, shop: str, access_token: str,
                      webhook_secret: str) -> int:
    domain = normalize_shop_domain(shop)
    token = _require_secret(access_token, "the access token")
    secret = _require_secret(webhook_secret, "the webhook secret")
    return _add(runtime, SHOPIFY, domain, {"access_token": token}, secret)


def add_woocommerce_store(runtime: Runtime, url: str, consumer_key: str, consumer_secret: str,
                          webhook_secret: str) -> int:
    domain = normalize_store_url(url)
    try:  # a private address spelled out is refused now; DNS is checked before every call
        check_url_form(domain, allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise StoreError(str(exc)) from None
    key = _require_secret(consumer_key, "the consumer key")
    secret = _require_secret(consumer_secret, "the consumer secret")
    hook_secret = _require_secret(webhook_secret, "the webhook secret")
    return _add(runtime, WOOCOMMERCE, domain,
                {"consumer_key": key, "consumer_secret": secret}, hook_secret)


def list_stores(runtime: Runtime) -> list[StoreSummary]:
    with runtime.db.read() as session:
        rows = session.scalars(select(Store).order_by(Store.id))
        return [StoreSummary(s.id, s.platform, s.domain, s.state) for s in rows]


def find_shopify_store(session: Session, shop_domain: str) -> Store | None:
    try:
        domain = normalize_shop_domain(shop_domain)
    except StoreError:
        return None
    return session.scalar(
        select(Store).where(Store.platform == SHOPIFY, Store.domain == domain)
    )


def find_store(session: Session, platform: str, store_id: int) -> Store | None:
    store = session.get(Store, store_id)
    return store if store is not None and store.platform == platform else None


def webhook_secrets(runtime: Runtime, store: Store) -> list[bytes]:
    """The secrets a delivery may be signed with: current, then previous (during rotation)."""
    tokens = [store.webhook_secret_encrypted, store.previous_webhook_secret_encrypted]
    return [runtime.secrets.decrypt(token).encode("utf-8") for token in tokens if token]


def rotate_webhook_secret(runtime: Runtime, store_id: int, new_secret: str) -> None:
    """Make `new_secret` current and keep the old one valid until the next rotation."""
    secret = _require_secret(new_secret, "the webhook secret")
    now = runtime.clock.now()
    with runtime.db.write() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise StoreError(f"there is no store {store_id}")
        store.previous_webhook_secret_encrypted = store.webhook_secret_encrypted
        store.webhook_secret_encrypted = runtime.secrets.encrypt(secret)
        store.updated_at = now
        record_audit(session, now, "cli", "store.webhook_secret_rotated", store_id=store.id)
