"""The audit log: who did what to which store, never with secrets in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from integration.storage.models import AuditLog


def record_audit(session: Session, at: datetime, actor: str, action: str,
                 store_id: int | None = None, subject: str = "",
                 details: dict[str, Any] | None = None) -> None:
    session.add(AuditLog(at=at, actor=actor, action=action, store_id=store_id,
                         subject=subject, details=details or {}))
