"""Small parsers every connector's mapper needs: platform JSON values to Python values.

Mappers collect problems as data (a list of messages) instead of raising on the first one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class Problems(list[str]):
    """What was wrong with a payload, field by field."""

    def require_str(self, data: dict[str, Any], key: str, where: str = "") -> str:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.append(f"{where}{key}: missing")
            return ""
        if not isinstance(value, str | int):
            self.append(f"{where}{key}: expected a string, got {type(value).__name__}")
            return ""
        return str(value)


def text(value: Any) -> str:
    """A string field that platforms send as null, absent or a number."""
    if value is None:
        return ""
    return str(value).strip()


def optional_id(value: Any) -> str | None:
    """An external id as a string; None, 0 and "" mean "none" (WooCommerce uses 0)."""
    if value in (None, "", 0, "0"):
        return None
    return str(value)


def decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def timestamp(value: Any, naive_is_utc: bool = True) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC; WooCommerce's *_gmt fields carry no offset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        if not naive_is_utc:
            return None
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def line_item_basics(data: Any, problems: Problems) -> tuple[dict[str, Any], str, int] | None:
    """The parts every platform's line item must have: an object with an id and a positive
    quantity. Problems are recorded; None means skip this line."""
    if not isinstance(data, dict):
        problems.append("line_items: each item must be an object")
        return None
    line_id = problems.require_str(data, "id", "line_items[].")
    quantity = positive_int(data.get("quantity"))
    if quantity is None:
        problems.append(f"line_items[{line_id}].quantity: must be a positive integer")
        return None
    return data, line_id, quantity
