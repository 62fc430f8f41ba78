"""Re-encrypting every stored secret under the primary key (`droptrack keys rotate`)."""

from __future__ import annotations

from sqlalchemy import select

from integration.kernel.runtime import Runtime
from integration.storage.models import Store, Supplier

ENCRYPTED_COLUMNS: dict[type[Store] | type[Supplier], tuple[str, ...]] = {
    Store: ("credentials_encrypted", "webhook_secret_encrypted",
            "previous_webhook_secret_encrypted"),
    Supplier: ("credentials_encrypted", "webhook_secret_encrypted"),
}


def reencrypt_all(runtime: Runtime) -> int:
    """Rotate every encrypted value in one transaction: all or nothing. Returns the count."""
    count = 0
    with runtime.db.write() as session:
        for model, columns in ENCRYPTED_COLUMNS.items():
            for row in session.scalars(select(model)):
                for column in columns:
                    token = getattr(row, column)
                    if token:
                        setattr(row, column, runtime.secrets.rotate(token))
                        count += 1
    return count
