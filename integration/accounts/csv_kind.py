"""The spreadsheet supplier as a kind: no connector, orders leave in batches
(integration/sync/suppliers/csv_exchange.py, which also adds them)."""

from __future__ import annotations

from integration.accounts.supplier_kinds import SupplierKind
from integration.storage.models import Supplier


def _describe(supplier: Supplier) -> str:
    return (f"orders to {supplier.settings.get('outbox_dir', '')}, tracking from "
            f"{supplier.settings.get('inbox_dir', '')}")


KIND = SupplierKind(name="csv", label="Spreadsheet", batch=True, carrier_events=False,
                    describe=_describe)
