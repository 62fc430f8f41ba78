"""The order/shipment status model: statuses, reasons, ordering and folding.

Pure standard library on purpose: this module is the single source of truth for what a status
means and which way it may move. What each status is called is in `core.wording`; how each
store shows it is in its connector's `units.py`.

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
from typing import NamedTuple, TypeVar

__all__ = [
    "RANK_BY_STATUS",
    "REASONS_BY_STATUS",
    "STATUS_BY_REASON",
    "AppliedEvent",
    "Reason",
    "Status",
    "StatusEvent",
    "StatusState",
    "apply",
    "apply_checked",
    "can_transition",
    "correction",
    "fold",
    "rank",
    "validate_reason",
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
    PRICE_ABOVE_LIMIT = "price_above_limit"
    NO_SHIPPING_METHOD = "no_shipping_method"
    AWAITING_SUPPLIER_PAYMENT = "awaiting_supplier_payment"
    SUPPLIER_CANCELLED = "supplier_cancelled"
    SUPPLIER_REFUSED = "supplier_refused"  # refused for a reason neither stock nor address
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
            Reason.UNMAPPED_SKU, Reason.PRICE_ABOVE_LIMIT, Reason.NO_SHIPPING_METHOD,
            Reason.AWAITING_SUPPLIER_PAYMENT, Reason.SUPPLIER_CANCELLED,
            Reason.SUPPLIER_REFUSED,
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
