"""The clocks: AcceleratedClock runs simulated time `factor` times faster than real time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import AcceleratedClock, FrozenClock

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_one_real_second_is_one_simulated_hour_at_factor_3600() -> None:
    real = FakeMonotonic()
    clock = AcceleratedClock(START, 3600, monotonic=real)
    assert clock.now() == START
    real.value += 1.5
    assert clock.now() == START + timedelta(hours=1.5)


def test_changing_the_factor_keeps_time_continuous() -> None:
    real = FakeMonotonic()
    clock = AcceleratedClock(START, 1, monotonic=real)
    real.value += 10
    clock.set_factor(60)
    assert clock.now() == START + timedelta(seconds=10)
    assert clock.factor == 60
    real.value += 2
    assert clock.now() == START + timedelta(seconds=130)


def test_rejects_naive_start_and_non_positive_factor() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AcceleratedClock(datetime(2026, 1, 1), 10)
    with pytest.raises(ValueError, match="positive"):
        AcceleratedClock(START, 0)
    clock = AcceleratedClock(START, 2)
    with pytest.raises(ValueError, match="positive"):
        clock.set_factor(-1)


def test_real_monotonic_time_never_runs_backwards_across_threads() -> None:
    clock = AcceleratedClock(START, 3600)
    problems: list[str] = []

    def read() -> None:
        last = clock.now()
        for _ in range(2000):
            current = clock.now()
            if current < last:
                problems.append(f"{current} < {last}")
            last = current

    def retune() -> None:
        for step in range(200):
            clock.set_factor(1 + step % 7)

    threads = [threading.Thread(target=read) for _ in range(4)]
    threads.append(threading.Thread(target=retune))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert clock.now() >= START


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(START)
    clock.advance(timedelta(days=2))
    assert clock.now() == START + timedelta(days=2)


def test_a_real_time_window_on_each_clock() -> None:
    from datetime import UTC, datetime, timedelta

    from core.clock import AcceleratedClock, FrozenClock, SystemClock, real_window

    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert real_window(SystemClock(), 300) == timedelta(seconds=300)  # real pushes: unchanged
    assert real_window(FrozenClock(start), 300) == timedelta(seconds=300)
    assert real_window(AcceleratedClock(start, 7200.0), 300) == timedelta(hours=600)
    assert real_window(AcceleratedClock(start, 0.5), 300) == timedelta(seconds=300)  # never less
