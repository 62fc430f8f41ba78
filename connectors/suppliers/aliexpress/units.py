"""AliExpress's words in DropTrack's terms: order statuses, business codes, platform errors.

Every order status of the DS docs (FACTS §5.4, plus the older seller doc's extras) is a row;
a status no row names is `unknown`, never a guess. The platform error codes for a refused
token, a refused signature and the QPS ban were not captured from AliExpress itself (FACTS §4,
UNCERTAIN): they are the Open Platform gateway's names (`IllegalAccessToken`,
`IncompleteSignature`, `ApiCallLimit`) and the legacy TOP numbers, and the ban is also known
by its documented message ("... this ban will last 1 seconds"), whatever its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from connectors.suppliers import base

# DropTrack's supplier-order statuses (connectors/suppliers/base.py), and "unknown" for an
# AliExpress status no row names (the engine leaves the order where it is).
RECEIVED = base.RECEIVED
AWAITING_PAYMENT = base.AWAITING_PAYMENT
PROCESSING = base.PROCESSING
SHIPPED = base.SHIPPED
CANCELLED = base.CANCELLED
ON_HOLD = base.ON_HOLD
UNKNOWN = "unknown"


@dataclass(frozen=True)
class OrderUnit:
    status: str
    note: str = ""  # why, for the owner, when the status alone does not say it


ORDER_STATUSES: Final = MappingProxyType({
    "PLACE_ORDER_SUCCESS": OrderUnit(AWAITING_PAYMENT,
                                     "placed, waiting for payment at AliExpress"),
    "PAYMENT_PROCESSING": OrderUnit(RECEIVED, "payment in progress"),
    "WAIT_SELLER_EXAMINE_MONEY": OrderUnit(RECEIVED, "payment being confirmed"),
    "WAIT_GROUP": OrderUnit(RECEIVED, "waiting for the group purchase to form"),
    "RISK_CONTROL": OrderUnit(ON_HOLD, "AliExpress's risk check"),
    "RISK_CONTROL_HOLD": OrderUnit(ON_HOLD, "held by AliExpress's risk check"),
    "WAIT_COMPLETE_ADDRESS": OrderUnit(ON_HOLD, "AliExpress asks for a complete address"),
    "WAIT_SELLER_SEND_GOODS": OrderUnit(PROCESSING, "paid, waiting for the seller to ship"),
    "SELLER_PART_SEND_GOODS": OrderUnit(PROCESSING, "part of the order shipped"),
    "WAIT_BUYER_ACCEPT_GOODS": OrderUnit(SHIPPED, "shipped"),
    # FINISH is "confirmed receipt or closed": a closed order whose every item ended as
    # cancelled is read as cancelled by the mapper (child `end_reason`).
    "FINISH": OrderUnit(SHIPPED, "finished"),
    "IN_CANCEL": OrderUnit(ON_HOLD, "cancellation in progress at AliExpress"),
    "in_issue": OrderUnit(ON_HOLD, "a dispute is open"),
    "in_frozen": OrderUnit(ON_HOLD, "frozen by AliExpress"),
})
UNKNOWN_ORDER = OrderUnit(UNKNOWN)
# Child order end reasons that mean the item will not come.
CANCELLED_END_REASONS: Final = frozenset({"CANCELED", "CANCELLED", "cancel_order_close_trade",
                                          "seller_send_goods_timeout", "buyer_cancel_order"})


def order_unit(raw: str) -> OrderUnit:
    return ORDER_STATUSES.get(raw, UNKNOWN_ORDER)


class Refusal(StrEnum):
    """Why AliExpress refused to place an order, in what the owner must do about it."""

    OUT_OF_STOCK = "out_of_stock"
    INVALID_ADDRESS = "invalid_address"
    INCOMPLETE_ADDRESS = "incomplete_address"
    NO_SHIPPING = "no_shipping_method"
    ALREADY_PLACED = "already_placed"  # the reference was used: an order exists, id unknown
    ACCOUNT = "supplier_account"  # the owner's AliExpress account cannot order
    REFUSED = "supplier_refused"  # refused for a reason AliExpress does not explain


# `aliexpress.ds.order.create` error codes (FACTS §5.3).
CREATE_ERRORS: Final = MappingProxyType({
    "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL": Refusal.INVALID_ADDRESS,
    "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID": Refusal.INVALID_ADDRESS,
    "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_NOT_MATCH": Refusal.INVALID_ADDRESS,
    "A002_INVALID_ZONE": Refusal.NO_SHIPPING,
    "A005_INVALID_COUNTRIES": Refusal.NO_SHIPPING,
    "DELIVERY_METHOD_NOT_EXIST": Refusal.NO_SHIPPING,
    "INVENTORY_HOLD_ERROR": Refusal.OUT_OF_STOCK,
    "REPEATED_ORDER_ERROR": Refusal.ALREADY_PLACED,
    "BLACKLIST_BUYER_IN_LIST": Refusal.ACCOUNT,
    "USER_ACCOUNT_DISABLED": Refusal.ACCOUNT,
    "A003_SUSPICIOUS_BUYER": Refusal.ACCOUNT,
    "A006_INVALID_ACCOUNT_INFO": Refusal.ACCOUNT,
    "PRICE_PAY_CURRENCY_ERROR": Refusal.ACCOUNT,
    "A001_ORDER_CANNOT_BE_PLACED": Refusal.REFUSED,
    "A004_CANNOT_USER_COUPON": Refusal.REFUSED,
    "ERROR_WHEN_BUILD_FOR_PLACE_ORDER": Refusal.REFUSED,
})
# An address error whose message asks for a missing field is "incomplete", not "invalid".
MISSING_FIELD_PREFIXES = ("please enter", "please select")


def create_refusal(code: str, message: str) -> Refusal:
    refusal = CREATE_ERRORS.get(code, Refusal.REFUSED)
    if refusal is Refusal.INVALID_ADDRESS and message.strip().lower().startswith(
            MISSING_FIELD_PREFIXES):
        return Refusal.INCOMPLETE_ADDRESS
    return refusal


# `aliexpress.ds.product.get` business codes (FACTS §5.1).
PRODUCT_NOT_IN_COUNTRY = "602"
PRODUCT_NOT_FOUND = "605"
# `aliexpress.ds.freight.query`: no delivery to the address (FACTS §5.2 sample).
FREIGHT_NOT_AVAILABLE = "505"
# `aliexpress.ds.order.tracking.get`: nothing shipped yet (FACTS §5.5).
TRACKING_NOT_FOUND = "1001"


class PlatformProblem(StrEnum):
    """What an `error_response` means for the caller."""

    TOKEN = "token"  # noqa: S105 (expired, revoked or wrong token: refresh, else reconnect)
    SIGNATURE = "signature"  # our signature was refused: the app secret is wrong
    THROTTLED = "throttled"  # the QPS ban: nothing for a second
    PERMISSION = "permission"  # the app may not call this API
    TEMPORARY = "temporary"  # AliExpress's side failed: try again later
    REQUEST = "request"  # a parameter we sent was refused: our bug, not retried


PLATFORM_CODES: Final = MappingProxyType({
    "IllegalAccessToken": PlatformProblem.TOKEN,
    "IllegalRefreshToken": PlatformProblem.TOKEN,
    "InvalidCode": PlatformProblem.TOKEN,
    "26": PlatformProblem.TOKEN,  # TOP: missing session
    "27": PlatformProblem.TOKEN,  # TOP: invalid session
    "IncompleteSignature": PlatformProblem.SIGNATURE,
    "InvalidSignature": PlatformProblem.SIGNATURE,
    "25": PlatformProblem.SIGNATURE,  # TOP: invalid signature
    "ApiCallLimit": PlatformProblem.THROTTLED,
    "AppCallLimit": PlatformProblem.THROTTLED,
    "7": PlatformProblem.THROTTLED,  # TOP: app call limited
    "15": PlatformProblem.TEMPORARY,  # "Remote service error" (unless the sub_code says more)
    "InsufficientPermission": PlatformProblem.PERMISSION,
    "AccessDenied": PlatformProblem.PERMISSION,
    "ServiceTimeout": PlatformProblem.TEMPORARY,
    "InternalError": PlatformProblem.TEMPORARY,
    "ServiceUnavailable": PlatformProblem.TEMPORARY,
})
THROTTLE_MESSAGE = "frequency exceeds the limit"


def platform_problem(code: str, sub_code: str, message: str) -> PlatformProblem:
    if THROTTLE_MESSAGE in message.lower():
        return PlatformProblem.THROTTLED
    if sub_code == "isv.insufficient-permission":
        return PlatformProblem.PERMISSION
    if "session" in sub_code or "token" in sub_code.lower():
        return PlatformProblem.TOKEN
    return PLATFORM_CODES.get(code, PlatformProblem.REQUEST)
