"""The order/shipment status model: statuses, reasons, ordering, folding and store mappings.

Pure standard library on purpose: this module is the single source of truth for what a status
means, which way it may move, and how it is shown to customers, Shopify and WooCommerce.

Key ideas:

* A status never goes backwards within an *epoch*: every (status, reason) pair has a rank and a
  lower-rank event never replaces a higher-rank one, however new it is (carriers deliver events
  late, out of order and twice).
* An explicit correction (a replaced tracking number, a manual fix by the owner) is an event with
  a higher epoch, and a higher epoch always wins.
* The current state is the maximum of all events under one total order, so it does not depend on
  the order events arrive in, nor on duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, NamedTuple, TypeVar

__all__ = [
    "CUSTOMER_LABELS",
    "RANK_BY_STATUS",
    "REASONS_BY_STATUS",
    "REASON_HINTS",
    "SHOPIFY_EVENT_STATUS_BY_REASON",
    "SHOPIFY_EVENT_STATUS_BY_STATUS",
    "SHOPIFY_FULFILLMENT_EVENT_STATUSES",
    "STATUS_BY_REASON",
    "WOOCOMMERCE_ORDER_STATUSES",
    "AppliedEvent",
    "CompleteOn",
    "Reason",
    "Status",
    "StatusEvent",
    "StatusState",
    "apply",
    "apply_checked",
    "can_transition",
    "correction",
    "customer_label",
    "customer_note",
    "fold",
    "rank",
    "reason_hint",
    "shopify_event_status",
    "validate_reason",
    "woocommerce_order_status",
]

_E = TypeVar("_E", bound=StrEnum)


def _parse_enum(enum_cls: type[_E], value: str, what: str) -> _E:
    normalized = value.strip().lower() if isinstance(value, str) else value
    try:
        return enum_cls(normalized)
    except ValueError:
        valid = ", ".join(member.value for member in enum_cls)
        raise ValueError(f"unknown {what} {value!r}; valid values are: {valid}") from None


class Status(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @classmethod
    def parse(cls, value: str) -> Status:
        """Parse a stored or external value (case and surrounding spaces ignored)."""
        return _parse_enum(cls, value, "status")


class Reason(StrEnum):
    # pending
    PAYMENT_ISSUE = "payment_issue"
    OUT_OF_STOCK = "out_of_stock"
    ADDRESS_NEEDS_CONFIRMATION = "address_needs_confirmation"
    UNMAPPED_SKU = "unmapped_sku"
    # undelivered
    INVALID_ADDRESS = "invalid_address"
    INCOMPLETE_ADDRESS = "incomplete_address"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    REFUSED = "refused"
    # exception
    DELAYED = "delayed"
    LOST = "lost"
    CUSTOMS = "customs"
    RETURN_TO_SENDER = "return_to_sender"

    @classmethod
    def parse(cls, value: str) -> Reason:
        """Parse a stored or external value (case and surrounding spaces ignored)."""
        return _parse_enum(cls, value, "reason")


REASONS_BY_STATUS: Mapping[Status, frozenset[Reason]] = MappingProxyType(
    {
        Status.PENDING: frozenset({
            Reason.PAYMENT_ISSUE, Reason.OUT_OF_STOCK, Reason.ADDRESS_NEEDS_CONFIRMATION,
            Reason.UNMAPPED_SKU,
        }),
        Status.PROCESSING: frozenset(),
        Status.INFO_RECEIVED: frozenset(),
        Status.IN_TRANSIT: frozenset(),
        Status.OUT_FOR_DELIVERY: frozenset(),
        Status.READY_FOR_PICKUP: frozenset(),
        Status.DELIVERED: frozenset(),
        Status.UNDELIVERED: frozenset(
            {
                Reason.INVALID_ADDRESS,
                Reason.INCOMPLETE_ADDRESS,
                Reason.RECIPIENT_UNAVAILABLE,
                Reason.REFUSED,
            }
        ),
        Status.EXCEPTION: frozenset(
            {Reason.DELAYED, Reason.LOST, Reason.CUSTOMS, Reason.RETURN_TO_SENDER}
        ),
        Status.CANCELLED: frozenset(),
        Status.REFUNDED: frozenset(),
    }
)
"""The reasons each status accepts. Every status also accepts no reason at all."""

STATUS_BY_REASON: Mapping[Reason, Status] = MappingProxyType(
    {reason: status for status, reasons in REASONS_BY_STATUS.items() for reason in reasons}
)


def validate_reason(status: Status, reason: Reason | None) -> None:
    """Raise ValueError (TypeError for wrong types) unless ``reason`` may go with ``status``."""
    if not isinstance(status, Status):
        raise TypeError(f"status must be a Status, not {type(status).__name__}: {status!r}")
    if reason is None:
        return
    if not isinstance(reason, Reason):
        raise TypeError(f"reason must be a Reason or None, not {type(reason).__name__}: {reason!r}")
    allowed = REASONS_BY_STATUS[status]
    if reason not in allowed:
        if allowed:
            valid = ", ".join(sorted(r.value for r in allowed))
            expected = f"valid reasons for {status.value!r} are: {valid} (or none)"
        else:
            expected = f"{status.value!r} takes no reason"
        raise ValueError(
            f"reason {reason.value!r} does not belong to status {status.value!r} "
            f"(it belongs to {STATUS_BY_REASON[reason].value!r}); {expected}"
        )


# --- labels and hints ---------------------------------------------------------------------------

CUSTOMER_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.PENDING: "Pending",
        Status.PROCESSING: "Processing",
        Status.INFO_RECEIVED: "Shipped",
        Status.IN_TRANSIT: "In transit",
        Status.OUT_FOR_DELIVERY: "Out for delivery",
        Status.READY_FOR_PICKUP: "Ready for pick-up",
        Status.DELIVERED: "Delivered",
        Status.UNDELIVERED: "Action needed",
        Status.EXCEPTION: "Delayed",
        Status.CANCELLED: "Cancelled",
        Status.REFUNDED: "Refunded",
    }
)

REASON_HINTS: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.PAYMENT_ISSUE: (
            "Payment is not confirmed: check the payment in your store before ordering "
            "from the supplier."
        ),
        Reason.OUT_OF_STOCK: (
            "Supplier is out of stock: offer the customer a variant or a refund."
        ),
        Reason.ADDRESS_NEEDS_CONFIRMATION: (
            "The shipping address looks incomplete or invalid for its country: the customer "
            "was asked to confirm it; correct it and forward the order again."
        ),
        Reason.UNMAPPED_SKU: (
            "No supplier is mapped for an item in this order: add a SKU mapping, then "
            "forward the order again."
        ),
        Reason.INVALID_ADDRESS: (
            "Carrier could not deliver: ask the customer to confirm the address."
        ),
        Reason.INCOMPLETE_ADDRESS: (
            "Address is missing details (street number, unit or postcode): ask the customer "
            "for the full address and pass it to the carrier."
        ),
        Reason.RECIPIENT_UNAVAILABLE: (
            "Nobody was there to receive the parcel: the carrier usually retries or leaves "
            "a notice; remind the customer to arrange redelivery or pick-up."
        ),
        Reason.REFUSED: (
            "The recipient refused the parcel: contact the customer and decide on a "
            "reshipment or a refund before it is returned."
        ),
        Reason.DELAYED: (
            "Parcel is delayed in the carrier network: no action needed yet, check again "
            "in a few days."
        ),
        Reason.LOST: (
            "Carrier reports the parcel lost: open a claim with the supplier or carrier and "
            "offer the customer a reshipment or a refund."
        ),
        Reason.CUSTOMS: (
            "Parcel is held at customs: check whether duties or documents are needed and "
            "let the customer know."
        ),
        Reason.RETURN_TO_SENDER: (
            "Parcel is being returned to the sender: confirm the address with the customer "
            "and decide whether to reship or refund."
        ),
    }
)


def customer_label(status: Status) -> str:
    """The short customer-facing label for ``status`` (tracking page, emails)."""
    return CUSTOMER_LABELS[status]


def reason_hint(reason: Reason) -> str:
    """A one-line, owner-facing explanation of ``reason`` with the action to take."""
    return REASON_HINTS[reason]


# --- ranks and transitions ----------------------------------------------------------------------

RANK_BY_STATUS: Mapping[Status, int] = MappingProxyType(
    {
        Status.PENDING: 0,
        Status.PROCESSING: 1,
        Status.INFO_RECEIVED: 2,
        Status.IN_TRANSIT: 3,
        Status.EXCEPTION: 3,  # exception/return_to_sender is 4, see _RANK_BY_REASON
        Status.OUT_FOR_DELIVERY: 4,
        Status.UNDELIVERED: 4,
        Status.READY_FOR_PICKUP: 4,
        Status.DELIVERED: 5,
        Status.CANCELLED: 6,
        # Above cancelled so that the fold and can_transition agree: refunded is final and
        # cancelled may only move on to refunded. With equal ranks, a later "cancelled" event
        # would win over "refunded" on its timestamp.
        Status.REFUNDED: 7,
    }
)

_RANK_BY_REASON: Mapping[Reason, int] = MappingProxyType({Reason.RETURN_TO_SENDER: 4})


def rank(status: Status, reason: Reason | None = None) -> int:
    """How far along ``(status, reason)`` is: within an epoch, status never moves down."""
    validate_reason(status, reason)
    if reason is not None and reason in _RANK_BY_REASON:
        return _RANK_BY_REASON[reason]
    return RANK_BY_STATUS[status]


def can_transition(
    current: Status,
    new: Status,
    *,
    current_reason: Reason | None = None,
    new_reason: Reason | None = None,
) -> bool:
    """Whether ``current`` may move to ``new`` without an explicit correction (new epoch).

    True when the new rank is at least the current one: equal ranks may alternate (in_transit <->
    exception/delayed, out_for_delivery -> undelivered -> ready_for_pickup). Nothing leaves
    refunded, and cancelled may only go to refunded; both follow from their ranks (6 and 7).
    """
    return rank(new, new_reason) >= rank(current, current_reason)


# --- events and folding -------------------------------------------------------------------------

_SortKey = tuple[int, int, datetime, str, str, str]


def _check_happened_at(happened_at: datetime) -> datetime:
    if not isinstance(happened_at, datetime):
        raise TypeError(f"happened_at must be a datetime, not {type(happened_at).__name__}")
    offset = happened_at.utcoffset()
    if offset is None:
        raise ValueError(
            f"happened_at must be timezone-aware UTC, got naive {happened_at.isoformat()}"
        )
    if offset != timedelta(0):
        raise ValueError(
            f"happened_at must be in UTC, got offset {offset} ({happened_at.isoformat()}); "
            "convert it with .astimezone(UTC)"
        )
    # One tzinfo object for every UTC time, so equal states are also identical in repr.
    return happened_at.astimezone(UTC)


def _check_epoch_and_key(epoch: int, key: str) -> None:
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise TypeError(f"epoch must be an int, not {type(epoch).__name__}")
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("key must be a non-empty dedupe key (e.g. the carrier event id)")


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One observed status, e.g. a carrier scan, a store webhook, or an owner's manual fix.

    ``key`` deduplicates (carrier event id, webhook id, ...). ``epoch`` is 0 for ordinary events;
    a correction has a higher epoch than the state it corrects (see :func:`correction`).
    Construction validates the reason against the status and requires a UTC datetime.
    """

    status: Status
    reason: Reason | None
    happened_at: datetime
    key: str
    epoch: int = 0

    def __post_init__(self) -> None:
        validate_reason(self.status, self.reason)
        object.__setattr__(self, "happened_at", _check_happened_at(self.happened_at))
        _check_epoch_and_key(self.epoch, self.key)

    @property
    def rank(self) -> int:
        return rank(self.status, self.reason)

    @property
    def sort_key(self) -> _SortKey:
        """The total order the fold takes the maximum of."""
        return _sort_key(self.epoch, self.status, self.reason, self.happened_at, self.key)


@dataclass(frozen=True, slots=True)
class StatusState:
    """The folded state: the fields of the winning event."""

    status: Status
    reason: Reason | None
    happened_at: datetime
    epoch: int
    key: str

    def __post_init__(self) -> None:
        validate_reason(self.status, self.reason)
        object.__setattr__(self, "happened_at", _check_happened_at(self.happened_at))
        _check_epoch_and_key(self.epoch, self.key)

    @classmethod
    def from_event(cls, event: StatusEvent) -> StatusState:
        return cls(
            status=event.status,
            reason=event.reason,
            happened_at=event.happened_at,
            epoch=event.epoch,
            key=event.key,
        )

    @property
    def rank(self) -> int:
        return rank(self.status, self.reason)

    @property
    def sort_key(self) -> _SortKey:
        return _sort_key(self.epoch, self.status, self.reason, self.happened_at, self.key)


def _sort_key(
    epoch: int, status: Status, reason: Reason | None, happened_at: datetime, key: str
) -> _SortKey:
    return (
        epoch,
        rank(status, reason),
        happened_at,
        status.value,
        reason.value if reason is not None else "",
        key,
    )


def correction(
    current_epoch: int,
    status: Status,
    reason: Reason | None,
    happened_at: datetime,
    key: str,
) -> StatusEvent:
    """An event that overrides everything up to ``current_epoch``, even moving backwards."""
    return StatusEvent(
        status=status, reason=reason, happened_at=happened_at, key=key, epoch=current_epoch + 1
    )


def apply(state: StatusState | None, event: StatusEvent) -> StatusState:
    """Fold one event into ``state``: the result is whichever is greater under ``sort_key``."""
    # Why order and duplicates do not matter: the state is the maximum of all events seen under
    # one total order (epoch, rank, happened_at, status, reason, key), and the state keeps every
    # field of the event that won. max over a total order is associative, commutative and
    # idempotent (a join-semilattice), so any arrival order, any replay and any duplicate give
    # the same state. Epoch first makes corrections win; rank before time makes a late, older
    # or newer lower-rank event lose within an epoch (never backwards); the remaining fields
    # only break ties so that the choice is deterministic.
    if state is not None and event.sort_key <= state.sort_key:
        return state
    return StatusState.from_event(event)


class AppliedEvent(NamedTuple):
    state: StatusState
    changed: bool
    """True when the (status, reason) differs from the previous state's (or there was none)."""


def apply_checked(state: StatusState | None, event: StatusEvent) -> AppliedEvent:
    """Like :func:`apply`, and say whether the customer-visible status changed.

    ``changed`` is True when there was no state yet or the resulting (status, reason) differs
    from the previous one; a duplicate, an older event, or a newer event with the same status
    and reason (a fresh scan, a correction to the same status) gives False. Use it to notify
    the customer once per status reached rather than once per carrier scan.
    """
    new_state = apply(state, event)
    changed = state is None or (new_state.status, new_state.reason) != (
        state.status,
        state.reason,
    )
    return AppliedEvent(new_state, changed)


def fold(events: Iterable[StatusEvent], initial: StatusState | None = None) -> StatusState | None:
    """The state after all ``events`` (None when there are none and no ``initial``)."""
    state = initial
    for event in events:
        state = apply(state, event)
    return state


# --- Shopify --------------------------------------------------------------------------------------

SHOPIFY_FULFILLMENT_EVENT_STATUSES: frozenset[str] = frozenset(
    {
        "LABEL_PRINTED",
        "LABEL_PURCHASED",
        "CONFIRMED",
        "CARRIER_PICKED_UP",
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "READY_FOR_PICKUP",
        "ATTEMPTED_DELIVERY",
        "DELAYED",
        "DELIVERED",
        "FAILURE",
    }
)
"""Valid values of Shopify's FulfillmentEventStatus enum."""

SHOPIFY_EVENT_STATUS_BY_STATUS: Mapping[Status, str] = MappingProxyType(
    {
        Status.INFO_RECEIVED: "CONFIRMED",
        Status.IN_TRANSIT: "IN_TRANSIT",
        Status.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
        Status.READY_FOR_PICKUP: "READY_FOR_PICKUP",
        Status.DELIVERED: "DELIVERED",
        Status.UNDELIVERED: "FAILURE",
        Status.EXCEPTION: "DELAYED",
    }
)
"""Statuses that create a fulfillment event; the others (pending, processing, cancelled,
refunded) have no fulfillment event."""

SHOPIFY_EVENT_STATUS_BY_REASON: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.RECIPIENT_UNAVAILABLE: "ATTEMPTED_DELIVERY",
        Reason.INVALID_ADDRESS: "FAILURE",
        Reason.INCOMPLETE_ADDRESS: "FAILURE",
        Reason.REFUSED: "FAILURE",
        Reason.DELAYED: "DELAYED",
        Reason.CUSTOMS: "DELAYED",
        Reason.LOST: "FAILURE",
        Reason.RETURN_TO_SENDER: "FAILURE",
    }
)
"""Reason-specific overrides of SHOPIFY_EVENT_STATUS_BY_STATUS."""


def shopify_event_status(status: Status, reason: Reason | None = None) -> str | None:
    """The Shopify FulfillmentEventStatus for ``(status, reason)``, or None for no event."""
    validate_reason(status, reason)
    if status not in SHOPIFY_EVENT_STATUS_BY_STATUS:
        return None
    if reason is not None and reason in SHOPIFY_EVENT_STATUS_BY_REASON:
        return SHOPIFY_EVENT_STATUS_BY_REASON[reason]
    return SHOPIFY_EVENT_STATUS_BY_STATUS[status]


# --- WooCommerce ----------------------------------------------------------------------------------

CompleteOn = Literal["shipped", "delivered"]

WOOCOMMERCE_ORDER_STATUSES: frozenset[str] = frozenset(
    {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}
)
"""Core WooCommerce order statuses (without the ``wc-`` prefix)."""

_SHIPPED_NOT_DELIVERED = frozenset(
    {
        Status.INFO_RECEIVED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.READY_FOR_PICKUP,
        Status.UNDELIVERED,
        Status.EXCEPTION,
    }
)


def woocommerce_order_status(
    status: Status, reason: Reason | None = None, *, complete_on: CompleteOn = "shipped"
) -> str | None:
    """The WooCommerce order status to set for ``(status, reason)``, or None to leave it as is.

    ``complete_on`` is the store's choice of when an order becomes "completed": as soon as it
    ships, or only once delivered (then shipped-but-not-delivered orders, including undelivered
    and exception, stay "processing").
    """
    validate_reason(status, reason)
    if complete_on not in ("shipped", "delivered"):
        raise ValueError(f"complete_on must be 'shipped' or 'delivered', got {complete_on!r}")
    if status is Status.PENDING:
        on_hold = reason in (Reason.OUT_OF_STOCK, Reason.ADDRESS_NEEDS_CONFIRMATION)
        return "on-hold" if on_hold else None
    if status is Status.PROCESSING:
        return "processing"
    if status in _SHIPPED_NOT_DELIVERED:
        return "completed" if complete_on == "shipped" else "processing"
    if status is Status.DELIVERED:
        return "completed"
    if status is Status.CANCELLED:
        return "cancelled"
    return "refunded"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def customer_note(
    status: Status,
    reason: Reason | None,
    carrier: str | None,
    tracking_number: str | None,
) -> str | None:
    """The customer-facing order note for ``(status, reason)``, or None when none is needed.

    No note for pending without a reason or with payment_issue (nothing to tell the customer
    yet) nor for processing (the store's own emails cover it).
    """
    validate_reason(status, reason)
    carrier = _clean(carrier)
    tracking_number = _clean(tracking_number)
    via = f" with {carrier}" if carrier else ""
    tracking = f", tracking number {tracking_number}" if tracking_number else ""

    match status:
        case Status.PENDING:
            if reason is Reason.OUT_OF_STOCK:
                return (
                    "An item in your order is temporarily out of stock. "
                    "We will contact you shortly with options."
                )
            if reason is Reason.ADDRESS_NEEDS_CONFIRMATION:
                return (
                    "We need you to confirm your delivery address before we can ship your "
                    "order. Please check your e-mail."
                )
            return None
        case Status.PROCESSING:
            return None
        case Status.INFO_RECEIVED:
            return (
                f"Your order has shipped{via}{tracking}. "
                "Tracking updates can take a day or two to appear."
            )
        case Status.IN_TRANSIT:
            return f"Your parcel is on its way{via}{tracking}."
        case Status.OUT_FOR_DELIVERY:
            return "Your parcel is out for delivery."
        case Status.READY_FOR_PICKUP:
            note = (
                "Your parcel is ready for pick-up. Check the carrier's notice or tracking page "
                "for the pick-up point and its opening hours."
            )
            if tracking_number:
                note += f" Tracking number: {tracking_number}."
            return note
        case Status.DELIVERED:
            return "Your parcel has been delivered. We hope you enjoy your order!"
        case Status.UNDELIVERED:
            return _UNDELIVERED_NOTES[reason]
        case Status.EXCEPTION:
            return _EXCEPTION_NOTES[reason]
        case Status.CANCELLED:
            return "Your order has been cancelled. Please contact us if you have any questions."
        case Status.REFUNDED:
            return (
                "Your order has been refunded. Depending on your bank, the money can take a "
                "few business days to appear on your statement."
            )


_UNDELIVERED_NOTES: Mapping[Reason | None, str] = MappingProxyType(
    {
        None: (
            "The carrier could not deliver your parcel. "
            "Please contact us so we can arrange delivery."
        ),
        Reason.INVALID_ADDRESS: (
            "The carrier could not deliver your parcel: please confirm your delivery address."
        ),
        Reason.INCOMPLETE_ADDRESS: (
            "The carrier could not deliver your parcel because the address is incomplete: "
            "please send us your full address, including any apartment or unit number."
        ),
        Reason.RECIPIENT_UNAVAILABLE: (
            "The carrier tried to deliver your parcel but nobody was available. They usually "
            "try again or leave a notice with instructions."
        ),
        Reason.REFUSED: (
            "Your parcel was refused at delivery. If this was a mistake, please contact us."
        ),
    }
)

_EXCEPTION_NOTES: Mapping[Reason | None, str] = MappingProxyType(
    {
        None: (
            "Your parcel is delayed. We are keeping an eye on it and will let you know when "
            "it moves again."
        ),
        Reason.DELAYED: (
            "Your parcel is delayed. We are keeping an eye on it and will let you know when "
            "it moves again."
        ),
        Reason.CUSTOMS: (
            "Your parcel is being processed by customs. This can take a few days; we will let "
            "you know when it is released."
        ),
        Reason.LOST: (
            "Unfortunately the carrier reports that your parcel may be lost. We are looking "
            "into it and will contact you about a replacement or a refund."
        ),
        Reason.RETURN_TO_SENDER: (
            "Your parcel is being returned by the carrier. We will contact you to arrange a "
            "new delivery or a refund."
        ),
    }
)
