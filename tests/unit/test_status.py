from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.shopify.units import (
    FULFILLMENT_EVENT_STATUSES as SHOPIFY_FULFILLMENT_EVENT_STATUSES,
)
from connectors.shopify.units import fulfillment_event_status as shopify_event_status
from connectors.woocommerce.units import ORDER_STATUSES as WOOCOMMERCE_ORDER_STATUSES
from connectors.woocommerce.units import order_status as woocommerce_order_status
from core.status import (
    REASONS_BY_STATUS,
    STATUS_BY_REASON,
    Reason,
    Status,
    StatusEvent,
    StatusState,
    apply,
    apply_checked,
    can_transition,
    correction,
    fold,
    rank,
    validate_reason,
)
from core.wording import CUSTOMER_LABELS, REASON_HINTS, customer_label, customer_note, reason_hint

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ev(
    status: Status,
    reason: Reason | None = None,
    *,
    minutes: int = 0,
    key: str | None = None,
    epoch: int = 0,
) -> StatusEvent:
    return StatusEvent(
        status=status,
        reason=reason,
        happened_at=T0 + timedelta(minutes=minutes),
        key=key if key is not None else f"{status.value}-{reason}-{minutes}",
        epoch=epoch,
    )


ALL_PAIRS: list[tuple[Status, Reason | None]] = [(s, None) for s in Status] + [
    (s, r) for s in Status for r in sorted(REASONS_BY_STATUS[s])
]

# --- strategies -------------------------------------------------------------------------------

status_reasons = st.sampled_from(ALL_PAIRS)
# A few fixed instants so that ties on happened_at (and the later tie-breakers) really happen.
fixed_times = st.sampled_from([T0, T0 + timedelta(hours=1), T0 + timedelta(days=2)])
any_times = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2024, 12, 31),
    timezones=st.just(UTC),
)
times = st.one_of(fixed_times, any_times)
keys = st.one_of(st.sampled_from(["a", "b", "c"]), st.text(min_size=1, max_size=6))


epochs = st.integers(0, 2)


@st.composite
def events(draw: st.DrawFn) -> StatusEvent:
    status, reason = draw(status_reasons)
    return StatusEvent(
        status=status,
        reason=reason,
        happened_at=draw(times),
        key=draw(keys),
        epoch=draw(epochs),
    )


# Few choices per field, so events that tie on everything but one field are common.
@st.composite
def tight_events(draw: st.DrawFn) -> StatusEvent:
    status, reason = draw(
        st.sampled_from(
            [
                (Status.IN_TRANSIT, None),
                (Status.EXCEPTION, Reason.DELAYED),
                (Status.EXCEPTION, None),
                (Status.DELIVERED, None),
            ]
        )
    )
    return StatusEvent(
        status=status,
        reason=reason,
        happened_at=draw(st.sampled_from([T0, T0 + timedelta(hours=1)])),
        key=draw(st.sampled_from(["a", "b"])),
        epoch=draw(st.integers(0, 1)),
    )


event_lists = st.lists(st.one_of(events(), tight_events()), max_size=15)


# --- properties -------------------------------------------------------------------------------


@given(evts=event_lists, data=st.data())
def test_fold_independent_of_order_and_duplicates(
    evts: list[StatusEvent], data: st.DataObject
) -> None:
    expected = fold(evts)

    permuted = data.draw(st.permutations(evts))
    assert fold(permuted) == expected

    duplicates = data.draw(st.lists(st.sampled_from(evts), max_size=10)) if evts else []
    rnd = data.draw(st.randoms(use_true_random=False))
    mixed = permuted + duplicates
    rnd.shuffle(mixed)
    assert fold(mixed) == expected

    # Incremental folding (state stored, more events later) agrees with one big fold.
    split = data.draw(st.integers(0, len(mixed)))
    assert fold(mixed[split:], initial=fold(mixed[:split])) == expected


@given(evts=event_lists)
def test_fold_is_the_maximum_event(evts: list[StatusEvent]) -> None:
    result = fold(evts)
    if not evts:
        assert result is None
        return
    assert result is not None
    winner = max(evts, key=lambda e: e.sort_key)
    assert result == StatusState.from_event(winner)
    assert result.epoch == max(e.epoch for e in evts)
    same_epoch = [e for e in evts if e.epoch == result.epoch]
    assert result.rank == max(e.rank for e in same_epoch)


@given(evts=event_lists)
def test_never_backwards_within_an_epoch(evts: list[StatusEvent]) -> None:
    state: StatusState | None = None
    for event in evts:
        new = apply(state, event)
        if state is not None:
            assert new.epoch >= state.epoch
            if new.epoch == state.epoch:
                assert new.rank >= state.rank
                assert can_transition(
                    state.status,
                    new.status,
                    current_reason=state.reason,
                    new_reason=new.reason,
                )
        state = new


@given(
    evts=event_lists,
    target=status_reasons,
    when=times,
    key=keys,
    rnd=st.randoms(use_true_random=False),
)
def test_correction_wins_over_earlier_epochs(
    evts: list[StatusEvent],
    target: tuple[Status, Reason | None],
    when: datetime,
    key: str,
    rnd: random.Random,
) -> None:
    current = fold(evts)
    current_epoch = current.epoch if current is not None else 0
    fix = correction(current_epoch, target[0], target[1], when, key)
    assert fix.epoch == current_epoch + 1

    mixed = [*evts, fix]
    rnd.shuffle(mixed)
    assert fold(mixed) == StatusState.from_event(fix)
    # Earlier-epoch events arriving after the correction do not undo it.
    assert fold(evts, initial=fold([fix])) == StatusState.from_event(fix)


@given(evts=event_lists)
def test_apply_checked_agrees_with_apply(evts: list[StatusEvent]) -> None:
    state: StatusState | None = None
    for event in evts:
        new, changed = apply_checked(state, event)
        assert new == apply(state, event)
        expected_change = state is None or (new.status, new.reason) != (state.status, state.reason)
        assert changed is expected_change
        # Replaying the same event is never a change.
        assert apply_checked(new, event) == (new, False)
        state = new


# --- ordering examples --------------------------------------------------------------------------


def test_delivered_not_undone_by_late_in_transit() -> None:
    delivered = ev(Status.DELIVERED, minutes=10)
    late_scan = ev(Status.IN_TRANSIT, minutes=60)  # newer timestamp, lower rank
    state = fold([delivered, late_scan])
    assert state is not None
    assert state.status is Status.DELIVERED
    assert state.key == delivered.key
    assert fold([late_scan, delivered]) == state


def test_out_for_delivery_to_undelivered_to_pickup_to_delivered() -> None:
    steps = [
        ev(Status.OUT_FOR_DELIVERY, minutes=0),
        ev(Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE, minutes=10),
        ev(Status.READY_FOR_PICKUP, minutes=20),
        ev(Status.DELIVERED, minutes=30),
    ]
    state: StatusState | None = None
    seen: list[tuple[Status, Reason | None]] = []
    for step in steps:
        state, changed = apply_checked(state, step)
        assert changed
        seen.append((state.status, state.reason))
    assert seen == [(s.status, s.reason) for s in steps]


def test_same_rank_moves_follow_time() -> None:
    a = ev(Status.IN_TRANSIT, minutes=0)
    b = ev(Status.EXCEPTION, Reason.DELAYED, minutes=5)
    c = ev(Status.IN_TRANSIT, minutes=10, key="later-scan")
    state = fold([c, a, b])
    assert state is not None
    assert (state.status, state.key) == (Status.IN_TRANSIT, "later-scan")
    assert fold([a, b]) == StatusState.from_event(b)


def test_full_ties_are_broken_deterministically() -> None:
    # Same epoch, rank and time: status, then reason, then key decide, whatever the order.
    pairs = [
        (ev(Status.IN_TRANSIT, key="a"), ev(Status.IN_TRANSIT, key="b")),
        (ev(Status.EXCEPTION, key="z"), ev(Status.IN_TRANSIT, key="a")),
        (ev(Status.EXCEPTION, key="z"), ev(Status.EXCEPTION, Reason.DELAYED, key="a")),
    ]
    for low, high in pairs:
        assert fold([low, high]) == fold([high, low]) == StatusState.from_event(high)


def test_return_to_sender_outranks_in_transit() -> None:
    rts = ev(Status.EXCEPTION, Reason.RETURN_TO_SENDER, minutes=0)
    scan = ev(Status.IN_TRANSIT, minutes=30)
    assert fold([rts, scan]) == StatusState.from_event(rts)


def test_refunded_is_final_and_cancelled_only_goes_to_refunded() -> None:
    refunded = ev(Status.REFUNDED, minutes=0)
    late_cancel = ev(Status.CANCELLED, minutes=30)
    assert fold([refunded, late_cancel]) == StatusState.from_event(refunded)
    cancel = ev(Status.CANCELLED, minutes=0)
    refund = ev(Status.REFUNDED, minutes=10)
    assert fold([refund, cancel]) == StatusState.from_event(refund)

    for status, reason in ALL_PAIRS:
        assert can_transition(Status.REFUNDED, status, new_reason=reason) is (
            status is Status.REFUNDED
        )
        assert can_transition(Status.CANCELLED, status, new_reason=reason) is (
            status in (Status.CANCELLED, Status.REFUNDED)
        )


@pytest.mark.parametrize(
    ("current", "current_reason", "new", "new_reason", "allowed"),
    [
        (Status.PENDING, None, Status.PROCESSING, None, True),
        (Status.PROCESSING, None, Status.PENDING, Reason.OUT_OF_STOCK, False),
        (Status.IN_TRANSIT, None, Status.EXCEPTION, Reason.DELAYED, True),
        (Status.EXCEPTION, Reason.DELAYED, Status.IN_TRANSIT, None, True),
        (Status.EXCEPTION, Reason.RETURN_TO_SENDER, Status.IN_TRANSIT, None, False),
        (Status.OUT_FOR_DELIVERY, None, Status.UNDELIVERED, Reason.REFUSED, True),
        (Status.UNDELIVERED, Reason.REFUSED, Status.READY_FOR_PICKUP, None, True),
        (Status.READY_FOR_PICKUP, None, Status.OUT_FOR_DELIVERY, None, True),
        (Status.DELIVERED, None, Status.IN_TRANSIT, None, False),
        (Status.DELIVERED, None, Status.UNDELIVERED, None, False),
        (Status.DELIVERED, None, Status.CANCELLED, None, True),
        (Status.DELIVERED, None, Status.REFUNDED, None, True),
        (Status.CANCELLED, None, Status.DELIVERED, None, False),
        (Status.CANCELLED, None, Status.REFUNDED, None, True),
        (Status.REFUNDED, None, Status.CANCELLED, None, False),
    ],
)
def test_can_transition(
    current: Status,
    current_reason: Reason | None,
    new: Status,
    new_reason: Reason | None,
    allowed: bool,
) -> None:
    assert (
        can_transition(current, new, current_reason=current_reason, new_reason=new_reason)
        is allowed
    )


def test_ranks() -> None:
    expected = {
        Status.PENDING: 0,
        Status.PROCESSING: 1,
        Status.INFO_RECEIVED: 2,
        Status.IN_TRANSIT: 3,
        Status.EXCEPTION: 3,
        Status.OUT_FOR_DELIVERY: 4,
        Status.UNDELIVERED: 4,
        Status.READY_FOR_PICKUP: 4,
        Status.DELIVERED: 5,
        Status.CANCELLED: 6,
        Status.REFUNDED: 7,
    }
    assert {s: rank(s) for s in Status} == expected
    assert rank(Status.EXCEPTION, Reason.RETURN_TO_SENDER) == 4
    for reason in (Reason.DELAYED, Reason.LOST, Reason.CUSTOMS):
        assert rank(Status.EXCEPTION, reason) == 3


def test_correction_can_move_backwards() -> None:
    delivered = ev(Status.DELIVERED, minutes=60)
    state = fold([delivered])
    assert state is not None
    fix = correction(state.epoch, Status.IN_TRANSIT, None, T0, "owner-fix-1")
    assert fix.epoch == 1
    new, changed = apply_checked(state, fix)
    assert (new.status, new.epoch, new.key, changed) == (Status.IN_TRANSIT, 1, "owner-fix-1", True)
    # Old-epoch events replayed later stay beaten, a later correction beats this one.
    assert apply(new, delivered) == new
    second = correction(new.epoch, Status.DELIVERED, None, T0, "owner-fix-2")
    assert apply(new, second).epoch == 2


def test_apply_checked_changed_only_first_time() -> None:
    first = ev(Status.IN_TRANSIT, minutes=0, key="scan-1")
    state, changed = apply_checked(None, first)
    assert changed

    state, changed = apply_checked(state, first)  # duplicate delivery
    assert not changed
    assert state == StatusState.from_event(first)

    later_scan = ev(Status.IN_TRANSIT, minutes=30, key="scan-2")
    state, changed = apply_checked(state, later_scan)
    assert not changed
    assert state.key == "scan-2"  # the state still advances to the newer event

    older = ev(Status.INFO_RECEIVED, minutes=-60, key="label")
    state, changed = apply_checked(state, older)
    assert not changed
    assert state.key == "scan-2"

    state, changed = apply_checked(state, ev(Status.OUT_FOR_DELIVERY, minutes=90))
    assert changed
    assert state.status is Status.OUT_FOR_DELIVERY


def test_fold_empty() -> None:
    assert fold([]) is None
    initial = StatusState.from_event(ev(Status.PROCESSING))
    assert fold([], initial=initial) is initial


# --- validation ---------------------------------------------------------------------------------


def test_reasons_table_matches_design() -> None:
    assert REASONS_BY_STATUS[Status.PENDING] == {
        Reason.PAYMENT_ISSUE, Reason.OUT_OF_STOCK, Reason.ADDRESS_NEEDS_CONFIRMATION,
        Reason.UNMAPPED_SKU,
        # issue 16: what real suppliers hold an order for before or while forwarding
        Reason.PRICE_ABOVE_LIMIT, Reason.NO_SHIPPING_METHOD,
        Reason.AWAITING_SUPPLIER_PAYMENT, Reason.SUPPLIER_CANCELLED, Reason.SUPPLIER_REFUSED,
    }
    assert REASONS_BY_STATUS[Status.UNDELIVERED] == {
        Reason.INVALID_ADDRESS,
        Reason.INCOMPLETE_ADDRESS,
        Reason.RECIPIENT_UNAVAILABLE,
        Reason.REFUSED,
    }
    assert REASONS_BY_STATUS[Status.EXCEPTION] == {
        Reason.DELAYED,
        Reason.LOST,
        Reason.CUSTOMS,
        Reason.RETURN_TO_SENDER,
    }
    others = set(Status) - {Status.PENDING, Status.UNDELIVERED, Status.EXCEPTION}
    assert all(REASONS_BY_STATUS[s] == frozenset() for s in others)
    assert set(STATUS_BY_REASON) == set(Reason)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Status.IN_TRANSIT, Reason.DELAYED),
        (Status.DELIVERED, Reason.REFUSED),
        (Status.UNDELIVERED, Reason.LOST),
        (Status.EXCEPTION, Reason.OUT_OF_STOCK),
        (Status.PENDING, Reason.INVALID_ADDRESS),
    ],
)
def test_invalid_reason_for_status_raises(status: Status, reason: Reason) -> None:
    with pytest.raises(ValueError, match=rf"{reason.value}.*{status.value}"):
        StatusEvent(status, reason, T0, "k")
    with pytest.raises(ValueError, match=reason.value):
        validate_reason(status, reason)
    with pytest.raises(ValueError):
        correction(0, status, reason, T0, "k")
    with pytest.raises(ValueError):
        StatusState(status, reason, T0, 0, "k")


def test_every_valid_pair_is_accepted() -> None:
    for status, reason in ALL_PAIRS:
        assert StatusEvent(status, reason, T0, "k").reason == reason


def test_wrong_types_raise() -> None:
    with pytest.raises(TypeError):
        StatusEvent("delivered", None, T0, "k")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StatusEvent(Status.EXCEPTION, "lost", T0, "k")  # type: ignore[arg-type]


def test_naive_datetime_raises() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        StatusEvent(Status.IN_TRANSIT, None, datetime(2024, 5, 1, 12, 0), "k")
    with pytest.raises(ValueError, match="timezone-aware"):
        correction(0, Status.IN_TRANSIT, None, datetime(2024, 5, 1, 12, 0), "k")


def test_non_utc_datetime_raises_and_utc_is_normalised() -> None:
    paris = timezone(timedelta(hours=2))
    with pytest.raises(ValueError, match="UTC"):
        StatusEvent(Status.IN_TRANSIT, None, datetime(2024, 5, 1, 14, 0, tzinfo=paris), "k")
    other_utc = timezone(timedelta(0), "Z")
    event = StatusEvent(Status.IN_TRANSIT, None, datetime(2024, 5, 1, 12, 0, tzinfo=other_utc), "k")
    assert event.happened_at == T0
    assert event.happened_at.tzinfo is UTC


def test_bad_epoch_and_key_raise() -> None:
    with pytest.raises(ValueError, match="epoch"):
        StatusEvent(Status.IN_TRANSIT, None, T0, "k", epoch=-1)
    with pytest.raises(ValueError, match="key"):
        StatusEvent(Status.IN_TRANSIT, None, T0, "")


def test_events_are_frozen() -> None:
    event = ev(Status.IN_TRANSIT)
    with pytest.raises(AttributeError):
        event.status = Status.DELIVERED  # type: ignore[misc]


def test_parse() -> None:
    assert Status.parse("in_transit") is Status.IN_TRANSIT
    assert Status.parse(" Delivered ") is Status.DELIVERED
    assert Reason.parse("return_to_sender") is Reason.RETURN_TO_SENDER
    with pytest.raises(ValueError, match=r"'shipped'.*pending.*refunded"):
        Status.parse("shipped")
    with pytest.raises(ValueError, match=r"'gone'.*payment_issue.*return_to_sender"):
        Reason.parse("gone")
    for status in Status:
        assert Status.parse(status.value) is status
    for reason in Reason:
        assert Reason.parse(reason.value) is reason


# --- labels and hints ---------------------------------------------------------------------------


def test_every_status_has_a_label() -> None:
    assert set(CUSTOMER_LABELS) == set(Status)
    for status in Status:
        assert customer_label(status).strip()
    assert customer_label(Status.INFO_RECEIVED) == "Shipped"
    assert customer_label(Status.READY_FOR_PICKUP) == "Ready for pick-up"
    assert customer_label(Status.UNDELIVERED) == "Action needed"
    assert customer_label(Status.EXCEPTION) == "Delayed"


def test_every_reason_has_a_hint() -> None:
    assert set(REASON_HINTS) == set(Reason)
    for reason in Reason:
        assert reason_hint(reason).endswith(".")
    assert reason_hint(Reason.OUT_OF_STOCK) == (
        "Supplier is out of stock: offer the customer a variant or a refund."
    )
    assert reason_hint(Reason.INVALID_ADDRESS) == (
        "Carrier could not deliver: ask the customer to confirm the address."
    )


# --- Shopify --------------------------------------------------------------------------------------


def test_shopify_mapping_returns_only_valid_values() -> None:
    for status, reason in ALL_PAIRS:
        value = shopify_event_status(status, reason)
        assert value is None or value in SHOPIFY_FULFILLMENT_EVENT_STATUSES


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (Status.PENDING, None, None),
        (Status.PENDING, Reason.OUT_OF_STOCK, None),
        (Status.PROCESSING, None, None),
        (Status.CANCELLED, None, None),
        (Status.REFUNDED, None, None),
        (Status.INFO_RECEIVED, None, "CONFIRMED"),
        (Status.IN_TRANSIT, None, "IN_TRANSIT"),
        (Status.OUT_FOR_DELIVERY, None, "OUT_FOR_DELIVERY"),
        (Status.READY_FOR_PICKUP, None, "READY_FOR_PICKUP"),
        (Status.DELIVERED, None, "DELIVERED"),
        (Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE, "ATTEMPTED_DELIVERY"),
        (Status.UNDELIVERED, Reason.INVALID_ADDRESS, "FAILURE"),
        (Status.UNDELIVERED, Reason.INCOMPLETE_ADDRESS, "FAILURE"),
        (Status.UNDELIVERED, Reason.REFUSED, "FAILURE"),
        (Status.UNDELIVERED, None, "FAILURE"),
        (Status.EXCEPTION, Reason.DELAYED, "DELAYED"),
        (Status.EXCEPTION, Reason.CUSTOMS, "DELAYED"),
        (Status.EXCEPTION, Reason.LOST, "FAILURE"),
        (Status.EXCEPTION, Reason.RETURN_TO_SENDER, "FAILURE"),
        (Status.EXCEPTION, None, "DELAYED"),
    ],
)
def test_shopify_event_status(status: Status, reason: Reason | None, expected: str | None) -> None:
    assert shopify_event_status(status, reason) == expected


def test_shopify_rejects_invalid_pair() -> None:
    with pytest.raises(ValueError):
        shopify_event_status(Status.DELIVERED, Reason.LOST)


# --- WooCommerce ----------------------------------------------------------------------------------

SHIPPED_NOT_DELIVERED = [
    Status.INFO_RECEIVED,
    Status.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY,
    Status.READY_FOR_PICKUP,
    Status.UNDELIVERED,
    Status.EXCEPTION,
]


@pytest.mark.parametrize("complete_on", ["shipped", "delivered"])
def test_woocommerce_common_statuses(complete_on: str) -> None:
    def woo(status: Status, reason: Reason | None = None) -> str | None:
        return woocommerce_order_status(status, reason, complete_on=complete_on)  # type: ignore[arg-type]

    assert woo(Status.PENDING) is None
    assert woo(Status.PENDING, Reason.PAYMENT_ISSUE) is None
    assert woo(Status.PENDING, Reason.OUT_OF_STOCK) == "on-hold"
    assert woo(Status.PENDING, Reason.ADDRESS_NEEDS_CONFIRMATION) == "on-hold"
    assert woo(Status.PENDING, Reason.UNMAPPED_SKU) is None
    assert woo(Status.PROCESSING) == "processing"
    assert woo(Status.DELIVERED) == "completed"
    assert woo(Status.CANCELLED) == "cancelled"
    assert woo(Status.REFUNDED) == "refunded"
    for status, reason in ALL_PAIRS:
        value = woo(status, reason)
        assert value is None or value in WOOCOMMERCE_ORDER_STATUSES


def test_woocommerce_complete_on_shipped() -> None:
    for status, reason in ALL_PAIRS:
        if status in SHIPPED_NOT_DELIVERED:
            assert woocommerce_order_status(status, reason) == "completed", (status, reason)


def test_woocommerce_complete_on_delivered() -> None:
    for status, reason in ALL_PAIRS:
        if status in SHIPPED_NOT_DELIVERED:
            value = woocommerce_order_status(status, reason, complete_on="delivered")
            assert value == "processing", (status, reason)
    assert woocommerce_order_status(Status.DELIVERED, complete_on="delivered") == "completed"


def test_woocommerce_rejects_bad_complete_on() -> None:
    with pytest.raises(ValueError, match="complete_on"):
        woocommerce_order_status(Status.DELIVERED, complete_on="paid")  # type: ignore[arg-type]


# --- customer notes -----------------------------------------------------------------------------


def test_customer_note_shipped_mentions_carrier_and_tracking() -> None:
    note = customer_note(Status.INFO_RECEIVED, None, "4PX", "4PX300012345CN")
    assert note is not None
    assert note.startswith("Your order has shipped with 4PX, tracking number 4PX300012345CN.")
    bare = customer_note(Status.INFO_RECEIVED, None, None, "  ")
    assert bare is not None
    assert bare.startswith("Your order has shipped.")
    assert "None" not in bare
    in_transit = customer_note(Status.IN_TRANSIT, None, None, "LX1")
    assert in_transit == "Your parcel is on its way, tracking number LX1."


def test_customer_note_specific_texts() -> None:
    assert customer_note(Status.OUT_FOR_DELIVERY, None, "4PX", "X") == (
        "Your parcel is out for delivery."
    )
    assert customer_note(Status.UNDELIVERED, Reason.INVALID_ADDRESS, None, None) == (
        "The carrier could not deliver your parcel: please confirm your delivery address."
    )
    pickup = customer_note(Status.READY_FOR_PICKUP, None, "PostNL", "3SABC")
    assert pickup is not None
    assert "pick-up" in pickup
    assert "3SABC" in pickup


def test_customer_note_none_where_no_note_is_needed() -> None:
    assert customer_note(Status.PENDING, None, None, None) is None
    assert customer_note(Status.PENDING, Reason.PAYMENT_ISSUE, None, None) is None
    assert customer_note(Status.PROCESSING, None, None, None) is None


def test_customer_note_for_every_other_pair() -> None:
    silent = {
        (Status.PENDING, None),
        (Status.PENDING, Reason.PAYMENT_ISSUE),
        (Status.PENDING, Reason.UNMAPPED_SKU),
        # the owner's matters with the supplier: nothing to tell the customer yet
        (Status.PENDING, Reason.PRICE_ABOVE_LIMIT),
        (Status.PENDING, Reason.NO_SHIPPING_METHOD),
        (Status.PENDING, Reason.AWAITING_SUPPLIER_PAYMENT),
        (Status.PENDING, Reason.SUPPLIER_CANCELLED),
        (Status.PENDING, Reason.SUPPLIER_REFUSED),
        (Status.PROCESSING, None),
    }
    notes: dict[tuple[Status, Reason | None], str] = {}
    for status, reason in ALL_PAIRS:
        note = customer_note(status, reason, "4PX", "T1")
        if (status, reason) in silent:
            assert note is None
            continue
        assert note is not None, (status, reason)
        assert note.endswith((".", "!")), note
        assert "_" not in note, note  # no raw enum values leak to customers
        notes[(status, reason)] = note
    # Each undelivered reason tells the customer something different.
    undelivered = [n for (s, _), n in notes.items() if s is Status.UNDELIVERED]
    assert len(set(undelivered)) == len(undelivered)


def test_customer_note_rejects_invalid_pair() -> None:
    with pytest.raises(ValueError):
        customer_note(Status.IN_TRANSIT, Reason.LOST, None, None)
