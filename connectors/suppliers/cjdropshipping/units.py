"""CJ's words in DropTrack's terms: envelope codes, order statuses, limits.

Codes from the official code table (FACTS.md §6). Where the contract is uncertain the safe
reading is taken and marked ASSUMED: the rate-limit code (1600200, conflicting sources), and
createOrderV2's refusals (no documented codes: recognised by code if the sandbox's, else by
CJ's message), so an unknown refusal is never mistaken for success.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.suppliers import base

SUCCESS = 200
SYSTEM_BUSY = 1600000  # retry (CJ: at most 3 times)
INVALID_TOKEN = 1600001  # "Invalid API key or access token"
EMPTY_TOKEN = 1600002
INVALID_REFRESH_TOKEN = 1600003
AUTH_FAILED = 1600004
API_KEY_WRONG = 1600005
ACCOUNT_NOT_FOUND = 1600006
AUTH_FAILED_2 = 1600008
PARAM_ERROR = 1600100  # CJ's own client also treats it as "token expired"
TOO_MANY_REQUESTS = 1600200  # ASSUMED (FACTS.md §3)

# The access token is used again only with this much life left; else it is refreshed first.
ACCESS_TOKEN_MARGIN = timedelta(days=1)
REFRESH_TOKEN_MARGIN = timedelta(days=1)
GET_TOKEN_EVERY_SECONDS = 300.0  # getAccessToken: once every 5 minutes
REFRESH_PER_SECOND = 5 / 60.0  # refreshAccessToken: 5 a minute

# Token problems: refresh (or get a new token with the API key) and try once more.
TOKEN_CODES = frozenset({INVALID_TOKEN, EMPTY_TOKEN})
# The API key itself is refused: only the owner can fix it.
KEY_CODES = frozenset({API_KEY_WRONG, ACCOUNT_NOT_FOUND, AUTH_FAILED, AUTH_FAILED_2})

# createOrderV2 refusals. ASSUMED codes (the sandbox's); matched by message too.
ORDER_NUMBER_EXISTS = 1603001
OUT_OF_STOCK = 1603002
ADDRESS_REFUSED = 1603003
NO_LOGISTICS = 1603004
STOCK_WORDS = ("out of stock", "inventory", "insufficient stock")
ADDRESS_WORDS = ("address", "zip", "postcode", "province", "city", "phone")
DUPLICATE_WORDS = ("already exists", "duplicate", "repeat")

DAILY_LIMIT_WORDS = ("daily request limit", "points")

PAY_WITH_BALANCE = 2
CREATE_ONLY = 3

# orderStatus (CJ's official order UI, FACTS.md §5) -> SupplierOrderView.status.
ORDER_STATUSES = {
    "CREATED": base.RECEIVED,
    "IN_CART": base.AWAITING_PAYMENT,
    "UNPAID": base.AWAITING_PAYMENT,
    "UNSHIPPED": base.PROCESSING,
    "SHIPPED": base.SHIPPED,
    "DELIVERED": base.SHIPPED,
    "CANCELLED": base.CANCELLED,
}


def order_status(value: str) -> str:
    """A status DropTrack does not know (CJ's "OTHER") is on hold: never a guess."""
    return ORDER_STATUSES.get(value.strip().upper(), base.ON_HOLD)


def contains(message: str, words: tuple[str, ...]) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in words)
