"""The supplier kinds DropTrack knows: each plugs in its connector, its settings and
credentials, its connect form and its account state, without if-chains elsewhere.

A kind lives in its own module exposing `KIND: SupplierKind`; `KIND_MODULES` names the
module (imported on first use, so a kind's connector is loaded only when a supplier of that
kind exists). To add a kind: write the module, add one line here.

What a kind provides:
- `connect(runtime, supplier)`: its `connectors.suppliers.base.SupplierConnector`, built from
  the supplier row (settings as JSON, credentials decrypted with `runtime.secrets`). None for
  kinds that are not called (spreadsheets go out in batches: `batch=True`).
- `check(runtime, supplier)`: run before every use (e.g. the URL is still public); raises
  `SupplierError`.
- `form` + `add(runtime, name, values)`: the dashboard's connect form (Suppliers page) and
  what it does; `add` returns the new supplier's id, its credentials encrypted at rest. Kinds
  with a page of their own (rest, csv) leave `add` None.
- `find_variants(runtime, supplier, product id or URL)`: the variants the owner picks from
  when linking a store SKU (Suppliers page -> the supplier -> Link a SKU).
- `account_state(runtime, supplier)`: label -> value for the Suppliers page (token expiry,
  balance, budget left); `test(runtime, supplier)`: the test button, a sentence saying what
  worked (raises SupplierError with what did not).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.suppliers.base import SupplierConnector
    from integration.kernel.runtime import Runtime
    from integration.storage.models import Supplier


class SupplierError(ValueError):
    """A supplier cannot be added or used as asked; the message says why."""


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    secret: bool = False  # a password field, never shown back
    required: bool = True
    hint: str = ""
    default: str = ""
    choice: bool = False  # a checkbox: "1" when ticked


@dataclass(frozen=True)
class VariantChoice:
    """One variant of a supplier's product, as the owner picks it when linking a store SKU."""

    product_id: str
    variant_id: str  # CJ vid; AliExpress sku_attr
    label: str
    supplier_sku: str = ""
    price: str = ""


@dataclass(frozen=True)
class SupplierKind:
    name: str
    label: str
    connect: Callable[[Runtime, Supplier], SupplierConnector] | None = None
    batch: bool = False  # orders leave in files (csv), not through a connector
    # Whether its parcels come with the carrier's scans; without them (a spreadsheet's
    # numbers, CJ's trackInfo numbers) the configured tracking service follows them.
    carrier_events: bool = True
    check: Callable[[Runtime, Supplier], None] | None = None
    form: Sequence[FormField] = field(default_factory=tuple)
    add: Callable[[Runtime, str, Mapping[str, str]], int] | None = None
    describe: Callable[[Supplier], str] = lambda supplier: ""
    account_state: Callable[[Runtime, Supplier], Mapping[str, str]] | None = None
    test: Callable[[Runtime, Supplier], str] | None = None
    # Kinds whose tokens expire: whether they are due (before they expire), and renewing
    # them (the call, then the new tokens saved encrypted). The sweep and the job are in
    # integration/sync/suppliers/tokens.py; `renew` raises SupplierAuthError when only the
    # owner can help (revoked: reconnect).
    needs_renewal: Callable[[Runtime, Supplier], bool] | None = None
    renew: Callable[[Runtime, Supplier], None] | None = None
    # The variants of the product the owner names by the supplier's id or its page's URL
    # (linking a store SKU); raises SupplierError when the supplier knows no such product.
    find_variants: Callable[[Runtime, Supplier, str], Sequence[VariantChoice]] | None = None
    # Kinds the owner authorizes at the supplier (OAuth code flow, AliExpress): the address
    # to send the owner to (redirect URI, state), and the callback's code exchanged for
    # tokens (saved encrypted; a sentence for the owner, SupplierError when refused).
    # Routes: integration/web/admin/supplier_oauth.py.
    authorize: Callable[[Runtime, Supplier, str, str], str] | None = None
    authorized: Callable[[Runtime, Supplier, str], str] | None = None


KIND_MODULES: dict[str, str] = {
    "rest": "integration.accounts.suppliers",
    "csv": "integration.accounts.csv_kind",
    "aliexpress": "integration.accounts.aliexpress_kind",
    "cj": "integration.accounts.cj",
}
# The job renewing one supplier's tokens (handler: integration/sync/suppliers/tokens.py; named
# here so that the engine can queue it after a refused token).
RENEW_TOKENS_JOB = "supplier.tokens.renew"


def kind_of(name: str) -> SupplierKind:
    """The kind called `name`; SupplierError for a kind DropTrack does not know."""
    try:
        module = importlib.import_module(KIND_MODULES[name])
    except KeyError:
        raise SupplierError(f"unknown supplier kind {name!r}: one of "
                            f"{', '.join(KIND_MODULES)}") from None
    kind: SupplierKind = module.KIND
    return kind


def connectable_kinds() -> list[SupplierKind]:
    """The kinds the Suppliers page offers a generic connect form for."""
    return [kind for kind in map(kind_of, KIND_MODULES) if kind.add is not None]


def renewal_key(supplier: Supplier) -> str:
    """The renewal job's key: one per supplier and version of its credentials (a digest: no
    secret in the key)."""
    import hashlib

    digest = hashlib.sha256((supplier.credentials_encrypted or "").encode()).hexdigest()[:12]
    return f"{RENEW_TOKENS_JOB}:{supplier.id}:{digest}"


def save_new_supplier(runtime: Runtime, supplier: Supplier, actor: str) -> int:
    """Insert a new supplier row (credentials already encrypted) with its audit entry; the
    same name twice is a SupplierError, not a crash. Every kind's `add` ends here."""
    from sqlalchemy.exc import IntegrityError

    from integration.accounts.audit import record_audit

    try:
        with runtime.db.write() as session:
            session.add(supplier)
            session.flush()
            record_audit(session, supplier.created_at, actor, "supplier.added",
                         subject=f"{supplier.kind}:{supplier.name}")
    except IntegrityError:
        raise SupplierError(f"a supplier named {supplier.name!r} already exists") from None
    return supplier.id
