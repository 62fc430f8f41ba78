"""The CJ sandbox's world: accounts and tokens, the catalogue with stock per warehouse
country, freight per destination, orders and their lifecycle, limits and faults.

Everything that answers CJ's contract (FACTS.md) is in app.py; this module is plain state,
driven by the app and by tests (`pay`, `ship`, `cancel`, `set_stock`, `revoke_*`, faults).
Times: token lifetimes and the daily limit follow the injected clock; the QPS window follows
`time.monotonic` (a frozen test clock would otherwise never let a second pass).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.clock import Clock
from sandboxes.supplier.carriers import CarrierCode, new_tracking_number

DEFAULT_API_KEY = "CJ1234567@api@" + "0" * 32
ACCESS_LIFETIME = timedelta(days=15)
REFRESH_LIFETIME = timedelta(days=180)
GET_TOKEN_EVERY = timedelta(minutes=5)
REFRESHES_PER_MINUTE = 5


@dataclass
class Variant:
    vid: str
    pid: str
    sku: str
    name: str
    price: Decimal
    stock: dict[str, int]  # warehouse country -> units


@dataclass
class Account:
    api_key: str
    open_id: int
    qps: float = 1.0  # level 0-1
    balance: Decimal = Decimal("500.00")
    daily_limit: int | None = None  # calls per interface per day; None = verified account
    revoked: bool = False
    last_get_token: datetime | None = None
    refreshes: deque[datetime] = field(default_factory=deque)
    calls: deque[float] = field(default_factory=deque)  # monotonic, the last second
    daily: dict[tuple[str, str], int] = field(default_factory=dict)  # (day, path) -> calls


@dataclass
class Token:
    account: Account
    access: str
    access_expires: datetime
    refresh: str
    refresh_expires: datetime
    revoked: bool = False


@dataclass
class Order:
    order_id: str
    order_num: str
    account: Account
    body: dict[str, Any]
    status: str
    created: datetime
    amount: Decimal
    track_numbers: list[str] = field(default_factory=list)
    carrier: str = ""
    paid_at: datetime | None = None


DEFAULT_CATALOG = (
    Variant("439FC05B-1311-4349-87FA-1E1EF942C418", "1424608189734850560", "CJMUG001-WHITE",
            "Ceramic mug white", Decimal("4.20"), {"CN": 120, "US": 8}),
    Variant("5B1A33C1-0A6E-4C0E-9B8A-2B8F7C9D1E22", "1424608189734850560", "CJMUG001-BLACK",
            "Ceramic mug black", Decimal("4.50"), {"CN": 0}),
    Variant("7D2E44A9-6B1F-4C3D-8E9F-3C0A1B2D4E33", "1500000000000000001", "CJTEE002-M",
            "T-shirt M", Decimal("6.80"), {"CN": 40}),
)
# Destination -> (logisticName, price, aging). A country missing here has no method.
DEFAULT_FREIGHT = {
    "US": [("CJPacket Ordinary", Decimal("4.71"), "7-12"), ("USPS+", Decimal("6.10"), "2-5")],
    "DE": [("CJPacket Ordinary", Decimal("5.20"), "8-14")],
    "GB": [("Royal Mail", Decimal("5.90"), "5-9")],
    "FR": [("CJPacket Ordinary", Decimal("5.30"), "8-14")],
}
REFUSED_ZIPS = frozenset({"00000"})  # createOrderV2 refuses these addresses
REFUSED_STREET_WORDS = ("po box", "p.o. box")  # and parcels to post-office boxes


class CJState:
    def __init__(self, clock: Clock, *, api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
                 seed: int = 0, qps_enforced: bool = True) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.qps_enforced = qps_enforced
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.variants: dict[str, Variant] = {}
        self.freight: dict[str, list[tuple[str, Decimal, str]]] = {}
        self.orders: dict[str, Order] = {}
        self.create_calls = 0
        self.token_calls: list[str] = []  # "get" | "refresh", in order
        # Faults: createOrderV2 commits, then answers after this many seconds (a timeout).
        self.create_delay_seconds = 0.0
        self.create_fail_after_commit = 0  # that many creates answer HTTP 502 after commit
        self.webhooks: dict[str, dict[str, Any]] = {}
        # The warehouse ships paid orders this long after payment (None: only `ship` does).
        self.auto_ship_after: timedelta | None = None
        self.reset(api_keys)

    def reset(self, api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)) -> None:
        with self.lock:
            self.accounts = {}
            for key in api_keys:
                self.add_account(key)
            self.tokens, self.refresh_tokens, self.orders = {}, {}, {}
            self.variants = {v.vid: Variant(v.vid, v.pid, v.sku, v.name, v.price,
                                            dict(v.stock)) for v in DEFAULT_CATALOG}
            self.freight = {k: list(v) for k, v in DEFAULT_FREIGHT.items()}
            self.create_calls, self.token_calls = 0, []
            self.create_delay_seconds, self.create_fail_after_commit = 0.0, 0
            self.webhooks = {}

    def add_account(self, api_key: str, **options: Any) -> Account:
        with self.lock:
            account = Account(api_key, open_id=100000 + len(self.accounts), **options)
            self.accounts[api_key] = account
            return account

    # --- tokens ----------------------------------------------------------------------------

    def issue(self, account: Account) -> Token:
        now = self.clock.now()
        token = Token(account, secrets.token_hex(16), now + ACCESS_LIFETIME,
                      secrets.token_hex(16), now + REFRESH_LIFETIME)
        self.tokens[token.access] = token
        self.refresh_tokens[token.refresh] = token
        return token

    def token_for(self, access: str) -> Token | None:
        token = self.tokens.get(access)
        if token is None or token.revoked or token.account.revoked:
            return None
        return token if token.access_expires > self.clock.now() else None

    def revoke_tokens(self, api_key: str = DEFAULT_API_KEY, refresh_too: bool = False) -> None:
        with self.lock:
            for token in self.tokens.values():
                if token.account.api_key == api_key:
                    token.revoked = True
                    if refresh_too:
                        self.refresh_tokens.pop(token.refresh, None)

    # --- catalogue -------------------------------------------------------------------------

    def set_stock(self, vid: str, country: str, units: int) -> None:
        with self.lock:
            self.variants[vid].stock[country] = units

    def by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants.values() if v.sku == sku), None)

    # --- orders ----------------------------------------------------------------------------

    def new_order(self, account: Account, body: dict[str, Any], amount: Decimal) -> Order:
        order = Order(order_id=str(2_000_000_000_000 + len(self.orders) + 1),
                      order_num=str(body["orderNumber"]), account=account, body=body,
                      status="CREATED", created=self.clock.now(), amount=amount)
        self.orders[order.order_id] = order
        return order

    def by_number(self, account: Account, number: str) -> Order | None:
        return next((o for o in self.orders.values()
                     if o.account is account and o.order_num == number), None)

    def pay(self, order_id: str) -> None:
        """The owner pays the order at CJ (or the balance did)."""
        with self.lock:
            order = self.orders[order_id]
            order.status, order.paid_at = "UNSHIPPED", self.clock.now()

    def ship(self, order_id: str, parcels: int = 1,
             carrier: CarrierCode = CarrierCode.CAINIAO) -> list[str]:
        """CJ ships the order, split into `parcels` parcels (one tracking number each)."""
        with self.lock:
            order = self.orders[order_id]
            order.track_numbers = [new_tracking_number(carrier, self.rng)
                                   for _ in range(parcels)]
            order.carrier = carrier.value
            order.status = "SHIPPED"
            return list(order.track_numbers)

    def advance(self) -> None:
        """Ship every paid order whose time has come (`auto_ship_after`), one parcel each."""
        if self.auto_ship_after is None:
            return
        with self.lock:
            due = [o.order_id for o in self.orders.values() if o.status == "UNSHIPPED"
                   and o.paid_at and o.paid_at + self.auto_ship_after <= self.clock.now()]
            for order_id in due:
                self.ship(order_id)

    def cancel(self, order_id: str) -> None:
        with self.lock:
            self.orders[order_id].status = "CANCELLED"

    def count_limits(self, account: Account, path: str) -> str | None:
        """Count one call; the refusal's message when over the QPS or the daily limit."""
        now = time.monotonic()
        if self.qps_enforced:
            while account.calls and account.calls[0] <= now - 1.0:
                account.calls.popleft()
            if len(account.calls) >= max(int(account.qps), 1):
                return "Too Many Requests"
            account.calls.append(now)
        if account.daily_limit is not None:
            day = self.clock.now().date().isoformat()
            used = account.daily.get((day, path), 0) + 1
            account.daily[(day, path)] = used
            if used > account.daily_limit:
                return ("Too Many Requests, Sorry, you have reached the daily request limit "
                        f"({account.daily_limit} times/day). Number of requests made: {used}. "
                        "Please try again tomorrow.")
        return None

    @staticmethod
    def request_id() -> str:
        return str(uuid.uuid4())
