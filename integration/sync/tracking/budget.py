"""A daily call budget (DHL: 250 calls a day, reset at 00:00 GMT) spent by every worker alike.

The count lives in the service's `tracking_quotas` row (total = the day's calls, used =
spent today, checked_at = when last counted; a new GMT day starts from zero). A poll asks how
many calls are left before it spends one; when DHL answers 429 anyway (another program shares
the key, or DHL counts differently) the day is marked spent. Either way the parcels keep their
due poll, so nothing is lost: they are polled again after the reset.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from integration.storage.models import TrackingQuota


def _today(session: Session, service: str, daily: int, now: datetime) -> TrackingQuota:
    row = session.get(TrackingQuota, service)
    if row is None:
        row = TrackingQuota(service=service, total=daily, used=0, remaining=daily,
                            exhausted=False, checked_at=now)
        session.add(row)
    checked = row.checked_at if row.checked_at.tzinfo else row.checked_at.replace(tzinfo=UTC)
    if checked.astimezone(UTC).date() != now.astimezone(UTC).date():
        row.used, row.exhausted = 0, False  # a new GMT day: the budget is back
    row.total, row.remaining = daily, max(daily - row.used, 0)
    return row


def calls_left(session: Session, service: str, daily: int, now: datetime) -> int:
    row = _today(session, service, daily, now)
    return 0 if row.exhausted else row.remaining


def spend(session: Session, service: str, daily: int, calls: int, now: datetime, *,
          spent_out: bool = False) -> None:
    """Count `calls` made today; `spent_out`: the service said the day's budget is gone."""
    row = _today(session, service, daily, now)
    row.used = daily if spent_out else row.used + calls
    row.remaining = max(daily - row.used, 0)
    row.exhausted = row.remaining <= 0
    row.checked_at = now
