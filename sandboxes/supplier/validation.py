"""Request bodies: shape checks with per-field errors, parsed into typed requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandboxes.supplier.errors import ApiError, FieldError

__all__ = [
    "MAX_LINES",
    "MAX_TRACKING_NUMBERS",
    "OrderLine",
    "OrderRequest",
    "parse_order_request",
    "parse_tracking_numbers",
    "parse_webhook_request",
]

MAX_LINES = 50
MAX_QUANTITY = 999
MAX_TRACKING_NUMBERS = 100
RECIPIENT_FIELDS = ("name", "address1", "address2", "city", "province", "postcode", "country",
                    "phone", "email")
REQUIRED_RECIPIENT_FIELDS = ("name", "address1", "city", "country")
SHIPPING_METHODS = ("standard", "express")


@dataclass(frozen=True)
class OrderLine:
    supplier_sku: str
    quantity: int


@dataclass(frozen=True)
class OrderRequest:
    store: str
    order_number: str
    recipient: Mapping[str, str]
    lines: tuple[OrderLine, ...]
    shipping_method: str


def _problem(field: str, code: str, message: str) -> FieldError:
    return {"field": field, "code": code, "message": message}


def _string(value: Any, field: str, problems: list[FieldError], *, required: bool,
            max_length: int = 255) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(_problem(field, "required", f"{field} is required"))
        return ""
    if not isinstance(value, str):
        problems.append(_problem(field, "invalid_type", f"{field} must be a string"))
        return ""
    if len(value) > max_length:
        problems.append(_problem(field, "too_long", f"{field} is longer than {max_length}"))
    return value.strip()


def _object(value: Any, field: str, problems: list[FieldError]) -> Mapping[str, Any]:
    if value is None:
        problems.append(_problem(field, "required", f"{field} is required"))
        return {}
    if not isinstance(value, dict):
        problems.append(_problem(field, "invalid_type", f"{field} must be an object"))
        return {}
    return value


def _lines(value: Any, problems: list[FieldError]) -> tuple[OrderLine, ...]:
    if not isinstance(value, list) or not value:
        problems.append(_problem("lines", "required", "lines must be a non-empty list"))
        return ()
    if len(value) > MAX_LINES:
        problems.append(_problem("lines", "too_many", f"at most {MAX_LINES} lines per order"))
        return ()
    lines = []
    for index, raw in enumerate(value):
        where = f"lines[{index}]"
        line = _object(raw, where, problems)
        sku = _string(line.get("supplier_sku"), f"{where}.supplier_sku", problems,
                      required=True, max_length=64)
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not 1 <= quantity <= MAX_QUANTITY:
            problems.append(_problem(f"{where}.quantity", "invalid_quantity",
                                     f"quantity must be an integer from 1 to {MAX_QUANTITY}"))
            quantity = 0
        lines.append(OrderLine(sku, quantity))
    return tuple(lines)


def parse_order_request(body: Any) -> OrderRequest:
    """The typed order request, or ApiError 422 ``validation_failed`` listing every problem."""
    problems: list[FieldError] = []
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    reference = _object(body.get("external_reference"), "external_reference", problems)
    store = _string(reference.get("store"), "external_reference.store", problems, required=True)
    order_number = _string(reference.get("order_number"), "external_reference.order_number",
                           problems, required=True, max_length=64)
    raw_recipient = _object(body.get("recipient"), "recipient", problems)
    recipient = {
        key: _string(raw_recipient.get(key), f"recipient.{key}", problems,
                     required=key in REQUIRED_RECIPIENT_FIELDS)
        for key in RECIPIENT_FIELDS
    }
    recipient["country"] = recipient["country"].upper()
    if recipient["email"] and "@" not in recipient["email"]:
        problems.append(_problem("recipient.email", "invalid_email", "not an email address"))
    lines = _lines(body.get("lines"), problems)
    shipping_method = body.get("shipping_method", "standard")
    if shipping_method not in SHIPPING_METHODS:
        problems.append(_problem("shipping_method", "invalid_choice",
                                 f"shipping_method must be one of {', '.join(SHIPPING_METHODS)}"))
    if problems:
        raise ApiError.validation(problems)
    return OrderRequest(store, order_number, recipient, lines, str(shipping_method))


def parse_tracking_numbers(body: Any) -> list[str]:
    """The distinct tracking numbers asked for (spaces removed, upper-cased), in order."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    numbers = body.get("tracking_numbers")
    if not isinstance(numbers, list) or not numbers:
        raise ApiError.validation([_problem("tracking_numbers", "required",
                                            "tracking_numbers must be a non-empty list")])
    if len(numbers) > MAX_TRACKING_NUMBERS:
        raise ApiError.validation([_problem(
            "tracking_numbers", "too_many",
            f"at most {MAX_TRACKING_NUMBERS} tracking numbers per request, got {len(numbers)}")])
    problems = [_problem(f"tracking_numbers[{i}]", "invalid_type", "must be a non-empty string")
                for i, n in enumerate(numbers) if not isinstance(n, str) or not n.strip()]
    if problems:
        raise ApiError.validation(problems)
    return list(dict.fromkeys("".join(n.split()).upper() for n in numbers))


def parse_webhook_request(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    problems: list[FieldError] = []
    url = _string(body.get("url"), "url", problems, required=True, max_length=2048)
    secret = _string(body.get("secret"), "secret", problems, required=True, max_length=256)
    if url and not url.startswith(("https://", "http://")):
        problems.append(_problem("url", "invalid_url", "url must be an http(s) URL"))
    if secret and len(secret) < 16:
        problems.append(_problem("secret", "too_short", "secret must be at least 16 characters"))
    if problems:
        raise ApiError.validation(problems)
    return url, secret
