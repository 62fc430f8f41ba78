"""Budget-aware dispatch, the decisions alone: which stores a claim takes, how long an idle
dispatcher waits, when a job may be handed back, and the limiter's honest picture."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.shopify.client import ShopifyClient
from connectors.shopify.ratelimit import InProcessLimiter, ThrottleStatus
from connectors.shopify.tokens import Credentials
from core import budget
from core.clock import FrozenClock
from integration.jobs.dispatcher import Outcome, StoreBudgets, claim_plan, idle_wait
from integration.jobs.outbox import StoreFilter

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SOON = NOW + timedelta(seconds=0.3)
PAST = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(("free", "short_until", "expected"), [
    # nothing known yet: one plain claim (unknown stores are learnt from their first jobs)
    (set(), {}, (StoreFilter(),)),
    # stores known to have no budget (WooCommerce) come after everything else
    ({7, 8}, {}, (StoreFilter(skip=frozenset({7, 8})), StoreFilter(only=frozenset({7, 8})))),
    # a store short of budget is skipped
    (set(), {2: SOON}, (StoreFilter(skip=frozenset({2})),)),
    ({7}, {2: SOON}, (StoreFilter(skip=frozenset({2, 7})), StoreFilter(only=frozenset({7})))),
    # a shortage that is over no longer skips
    (set(), {1: PAST}, (StoreFilter(),)),
    (set(), {1: NOW}, (StoreFilter(),)),
])
def test_claim_plan(free: set[int], short_until: dict[int, datetime],
                    expected: tuple[StoreFilter, ...]) -> None:
    assert claim_plan(free, short_until, NOW) == expected


@pytest.mark.parametrize(("short_until", "poll", "expected"), [
    ({}, 0.5, 0.5),
    ({1: SOON}, 0.5, 0.3),  # the store's budget is back before the next poll
    ({1: NOW + timedelta(seconds=2)}, 0.5, 0.5),
    ({1: PAST, 2: NOW + timedelta(seconds=0.1)}, 0.5, 0.1),
])
def test_idle_wait(short_until: dict[int, datetime], poll: float, expected: float) -> None:
    assert idle_wait(short_until, NOW, poll) == pytest.approx(expected)


WOO = (StoreFilter(skip=frozenset({1})), StoreFilter(only=frozenset({1})))


@pytest.mark.parametrize(("outcomes", "expected_plan", "handed_back"), [
    # a store whose job spent no budget is served last
    ([(1, Outcome())], WOO, 0),
    ([(1, Outcome(budgeted=True))], (StoreFilter(),), 0),
    ([(None, Outcome())], (StoreFilter(),), 0),  # no store: nothing to learn
    # once seen with a budget, a job that spent nothing (nothing to write) does not demote it
    ([(1, Outcome(budgeted=True)), (1, Outcome())], (StoreFilter(),), 0),
    ([(1, Outcome()), (1, Outcome(budgeted=True))], (StoreFilter(),), 0),
    ([(1, Outcome(deferred_until=SOON))], (StoreFilter(skip=frozenset({1})),), 1),
    # the later of two shortages holds (a job that needs more points waits longer)
    ([(1, Outcome(deferred_until=SOON)), (1, Outcome(deferred_until=PAST))],
     (StoreFilter(skip=frozenset({1})),), 2),
    ([(1, Outcome(deferred_until=PAST))], (StoreFilter(),), 1),
])
def test_store_budgets_learn_from_outcomes(outcomes: list[tuple[int | None, Outcome]],
                                           expected_plan: tuple[StoreFilter, ...],
                                           handed_back: int) -> None:
    budgets = StoreBudgets()
    for store_id, outcome in outcomes:
        budgets.learn(store_id, outcome)
    assert budgets.plan(NOW) == expected_plan
    assert budgets.handed_back.total() == handed_back


def test_only_a_deferrable_scope_with_nothing_sent_may_defer() -> None:
    assert not budget.may_defer()  # outside a job
    with budget.job_scope() as scope:
        assert not budget.may_defer()  # a job that did not say it may be handed back
        with budget.deferrable():
            assert budget.may_defer()
            budget.spend()  # the first call goes out
            assert not budget.may_defer()  # from here on the job waits
        assert scope.budgeted
        assert not budget.may_defer()
    with budget.deferrable():  # outside a job scope it does nothing
        assert not budget.may_defer()


def limiter_at(clock: FrozenClock, available: float, *, maximum: float = 2000,
               rate: float = 100) -> InProcessLimiter:
    limiter = InProcessLimiter(clock=clock, sleep=lambda s: clock.advance(timedelta(seconds=s)))
    limiter.observe("shop", ThrottleStatus(maximum, available, rate), actual=10,
                    throttled=False)
    return limiter


@pytest.mark.parametrize(("available", "points", "wait"), [
    (2000, 10, 0.0),
    (10, 10, 0.0),
    (5, 10, 0.05),
    (0, 50, 0.5),  # a tracking-number replacement is charged as 50
    (0, 220, 2.2),
    (0, 5000, 20.0),  # more than the bucket holds: a full bucket is enough
])
def test_try_acquire_reserves_or_says_how_long(available: float, points: float,
                                               wait: float) -> None:
    clock = FrozenClock(NOW)
    limiter = limiter_at(clock, available)
    assert limiter.try_acquire("shop", points) == pytest.approx(wait)
    if wait == 0:  # reserved: the same points are not there twice
        assert limiter.try_acquire("shop", available) > 0
    assert clock.now() == NOW  # never sleeps


def test_an_answer_does_not_give_back_points_reserved_for_calls_still_in_flight() -> None:
    clock = FrozenClock(NOW)
    limiter = limiter_at(clock, 100)
    limiter.try_acquire("shop", 50)  # thread 1 sends a 50-point call
    limiter.try_acquire("shop", 50)  # thread 2 too: the bucket is spent
    # Thread 1's answer: Shopify has charged it (not yet thread 2's), 50 left in its bucket.
    limiter.observe("shop", ThrottleStatus(2000, 50, 100), actual=50, throttled=False,
                    reserved=50)
    assert limiter.try_acquire("shop", 10) == pytest.approx(0.1)  # not 50 available
    # What a call reserved and did not spend comes back.
    limiter.observe("shop", ThrottleStatus(2000, 40, 100), actual=10, throttled=False,
                    reserved=50)
    assert limiter.try_acquire("shop", 40) == 0.0


class CountingLimiter(InProcessLimiter):
    def __init__(self, wait: float) -> None:
        super().__init__(sleep=self._slept)
        self.wait = wait
        self.slept: list[float] = []
        self.tried = 0

    def _slept(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.wait = 0.0

    def try_acquire(self, key: str, points: float) -> float:
        self.tried += 1
        return self.wait


@pytest.mark.parametrize(("deferrable", "wait", "raises", "slept"), [
    (True, 0.0, False, []),  # budget there: reserved, sent
    (True, 0.4, True, []),  # no budget, nothing sent yet: handed back
    (False, 0.4, False, [0.4]),  # not deferrable (or a later call of the job): waits
    (False, 0.0, False, []),
])
def test_the_client_hands_back_only_before_its_first_call(
        deferrable: bool, wait: float, raises: bool, slept: list[float]) -> None:
    limiter = CountingLimiter(wait)
    client = ShopifyClient("shop.myshopify.com", Credentials(access_token="t"),
                           api_version="2026-07", http=httpx.Client(), limiter=limiter,
                           clock=FrozenClock(NOW), save_credentials=lambda _c: None)
    deferring = budget.deferrable() if deferrable else contextlib.nullcontext()
    with budget.job_scope() as scope, deferring:
        if raises:
            with pytest.raises(budget.NotReady) as short:
                client._reserve(10)
            assert short.value.seconds == wait
            assert not scope.budgeted
        else:
            client._reserve(10)
            client._reserve(10)  # a second call of the same job never defers
            assert not budget.may_defer()
            assert scope.budgeted
    assert limiter.slept == slept
    client.close()
