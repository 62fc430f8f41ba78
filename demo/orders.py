"""The customers: a steady stream of orders in both sandbox stores, with the variety a real
store sees. Each order follows a story, set up the way it happens for real: the store's own
payment state (pending, paid later), stock at the supplier, the address the customer typed, and
the parcel's fate, chosen at the reference supplier by order number (`seed_scenario`).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.clock import Clock
from demo.sandboxes import Sandboxes
from demo.setup import (
    ALIEXPRESS_SUPPLIER,
    CJ_SUPPLIER,
    OUT_OF_STOCK_SKU,
    PRODUCTS,
    SHOPIFY_DOMAIN,
    Product,
)
from sandboxes.supplier import Scenario

SHOPIFY = "Shopify"
WOOCOMMERCE = "WooCommerce"


class Story(StrEnum):
    DELIVERED = "paid, delivered to the door"
    PICKUP_POINT = "paid, collected at a pick-up point"
    PAYMENT_PENDING = "payment pending, paid a few hours later"
    SPREADSHEET = "paid, from the spreadsheet supplier"
    UNDELIVERED = "paid, recipient not at home (undelivered)"
    OUT_OF_STOCK = "paid, but out of stock at the supplier"
    INCOMPLETE_ADDRESS = "paid, address without a house number"
    STUCK = "paid, parcel stuck in transit"
    DELAYED = "paid, carrier delay"


# An odd number of stories, so alternating stores gives each store every story in turn.
STORY_CYCLE = (Story.DELIVERED, Story.PICKUP_POINT, Story.PAYMENT_PENDING, Story.SPREADSHEET,
               Story.UNDELIVERED, Story.OUT_OF_STOCK, Story.DELIVERED, Story.INCOMPLETE_ADDRESS,
               Story.STUCK, Story.DELIVERED, Story.DELAYED)
SCENARIOS = {Story.DELIVERED: Scenario.NORMAL, Story.PICKUP_POINT: Scenario.READY_FOR_PICKUP,
             Story.PAYMENT_PENDING: Scenario.NORMAL, Story.UNDELIVERED:
             Scenario.RECIPIENT_UNAVAILABLE, Story.STUCK: Scenario.STUCK_IN_TRANSIT,
             Story.DELAYED: Scenario.DELAYED, Story.INCOMPLETE_ADDRESS: Scenario.NORMAL}
PAYMENT_DELAY_HOURS = (4.0, 10.0)


@dataclass(frozen=True)
class Customer:
    first_name: str
    last_name: str
    address1: str
    city: str
    province: str
    postcode: str
    country: str

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@example.com".lower()


CUSTOMERS = (
    Customer("Ada", "Lovelace", "12 Analytical Row", "London", "", "N1 7GU", "GB"),
    Customer("Grace", "Hopper", "1600 Pennsylvania Ave NW", "Washington", "DC", "20500", "US"),
    Customer("Marie", "Curie", "11 Rue Pierre et Marie Curie", "Paris", "", "75005", "FR"),
    Customer("Alan", "Turing", "78 High Street", "Wilmslow", "", "SK9 1AA", "GB"),
    Customer("Katherine", "Johnson", "350 Fifth Avenue", "New York", "NY", "10118", "US"),
    Customer("Emmy", "Noether", "Unter den Linden 6", "Berlin", "", "10117", "DE"),
    Customer("Hedy", "Lamarr", "4059 Mt Lee Dr", "Los Angeles", "CA", "90068", "US"),
    Customer("Lise", "Meitner", "9 Place de la Bourse", "Bordeaux", "", "33000", "FR"),
)
NO_HOUSE_NUMBER = "Elm Street"  # the customer forgot it: DropTrack asks the owner to confirm


@dataclass
class PlacedOrder:
    platform: str
    number: str  # as DropTrack and the supplier know it: "#1001" (Shopify), "153" (WooCommerce)
    external_id: int
    email: str
    story: Story
    customer_page: str
    placed_at: datetime


@dataclass(order=True)
class _Due:
    at: datetime
    sequence: int
    action: Callable[[], object] = field(compare=False)


class OrderStream:
    """Places orders at a steady real-time pace; settles pending payments in simulated time."""

    def __init__(self, sandboxes: Sandboxes, clock: Clock, woocommerce_products: dict[str, int],
                 *, orders_per_minute: float, seed: int | str = "droptrack-demo") -> None:
        self.sandboxes = sandboxes
        self.clock = clock
        self.woocommerce_products = woocommerce_products
        self.interval = 60.0 / orders_per_minute if orders_per_minute > 0 else 0.0
        self.rng = random.Random(seed)
        self.placed: list[PlacedOrder] = []
        self._stories = itertools.cycle(STORY_CYCLE)
        self._platforms = itertools.cycle((SHOPIFY, WOOCOMMERCE))
        self._customers = itertools.cycle(CUSTOMERS)
        self._due: list[_Due] = []
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self._next_at: float | None = None

    # -- the pace ---------------------------------------------------------------------------

    def tick(self, real_now: float) -> list[PlacedOrder]:
        """Place what is due at `real_now` (monotonic seconds); returns the new orders."""
        new: list[PlacedOrder] = []
        self._settle_payments()
        if self.interval and (self._next_at is None or real_now >= self._next_at):
            new.append(self.place_next())
            self._next_at = real_now + self.interval
        return new

    def place_burst(self, count: int) -> list[PlacedOrder]:
        return [self.place_next() for _ in range(count)]

    def place_next(self) -> PlacedOrder:
        story = next(self._stories)
        platform = next(self._platforms)
        customer = next(self._customers)
        product = self._product_for(story, customer)
        quantity = 2 if self.rng.random() < 0.25 else 1
        if platform == SHOPIFY:
            placed = self._place_shopify(story, customer, product, quantity)
        else:
            placed = self._place_woocommerce(story, customer, product, quantity)
        scenario = SCENARIOS.get(story)
        if scenario is not None:
            self.sandboxes.supplier.seed_scenario(scenario, order_number=placed.number)
        with self._lock:
            self.placed.append(placed)
        return placed

    def _product_for(self, story: Story, customer: Customer) -> Product:
        if story is Story.OUT_OF_STOCK:
            return next(p for p in PRODUCTS if p.sku == OUT_OF_STOCK_SKU)
        if story is Story.SPREADSHEET:
            return self.rng.choice([p for p in PRODUCTS if p.supplier_sku.startswith(
                ("CANDLE", "PRINT"))])
        if story is Story.PAYMENT_PENDING:  # CJdropshipping's turn: it ships once paid
            return next(p for p in PRODUCTS if p.supplier == CJ_SUPPLIER)
        if story is Story.DELIVERED and customer.province:
            # AliExpress's turn. It needs a state or province in the address (its documented
            # validation), which only the demo's US customers have.
            return next(p for p in PRODUCTS if p.supplier == ALIEXPRESS_SUPPLIER)
        return self.rng.choice([p for p in PRODUCTS if p.sku != OUT_OF_STOCK_SKU
                                and p.supplier != ALIEXPRESS_SUPPLIER
                                and p.supplier != CJ_SUPPLIER
                                and not p.supplier_sku.startswith(("CANDLE", "PRINT"))])

    # -- Shopify ----------------------------------------------------------------------------

    def _place_shopify(self, story: Story, customer: Customer, product: Product,
                       quantity: int) -> PlacedOrder:
        state = self.sandboxes.shopify.state
        address: dict[str, Any] = {
            "first_name": customer.first_name, "last_name": customer.last_name,
            "address1": NO_HOUSE_NUMBER if story is Story.INCOMPLETE_ADDRESS
            else customer.address1, "address2": None, "city": customer.city,
            "province": customer.province or None, "province_code": customer.province or None,
            "zip": customer.postcode, "country": customer.country,
            "country_code": customer.country, "phone": None, "company": None}
        paid = story is not Story.PAYMENT_PENDING
        order = state.place_order(SHOPIFY_DOMAIN, items=[{
            "title": product.title, "quantity": quantity, "price": product.price,
            "sku": product.sku}], paid=paid, email=customer.email, shipping_address=address)
        if not paid:
            self._later(lambda: state.mark_paid(order.id))
        page = f"{self.sandboxes.shopify_url}/shops/{SHOPIFY_DOMAIN}/orders/{order.status_token}"
        return PlacedOrder(SHOPIFY, order.name, order.id, customer.email, story, page,
                           self.clock.now())

    # -- WooCommerce ------------------------------------------------------------------------

    def _place_woocommerce(self, story: Story, customer: Customer, product: Product,
                           quantity: int) -> PlacedOrder:
        store = self.sandboxes.woocommerce
        address = {"first_name": customer.first_name, "last_name": customer.last_name,
                   "address_1": NO_HOUSE_NUMBER if story is Story.INCOMPLETE_ADDRESS
                   else customer.address1, "address_2": "", "city": customer.city,
                   "state": customer.province, "postcode": customer.postcode,
                   "country": customer.country}
        paid = story is not Story.PAYMENT_PENDING
        order = store.place_order(
            [(self.woocommerce_products[product.sku], quantity)],
            status="processing" if paid else "pending",
            billing={**address, "email": customer.email, "phone": ""}, shipping=address)
        if not paid:
            self._later(lambda: store.set_order_status(order.id, "processing",
                                                       "Payment received."))
        page = (f"{self.sandboxes.woocommerce_shop_url}/my-account/view-order/{order.id}/"
                f"?key={order.order_key}")
        return PlacedOrder(WOOCOMMERCE, str(order.id), order.id, customer.email, story, page,
                           self.clock.now())

    # -- payments that arrive later ----------------------------------------------------------

    def _later(self, action: Callable[[], object]) -> None:
        hours = self.rng.uniform(*PAYMENT_DELAY_HOURS)
        with self._lock:
            self._due.append(_Due(self.clock.now() + timedelta(hours=hours),
                                  next(self._sequence), action))

    def _settle_payments(self) -> None:
        now = self.clock.now()
        with self._lock:
            ready = sorted(d for d in self._due if d.at <= now)
            self._due = [d for d in self._due if d.at > now]
        for due in ready:
            due.action()
