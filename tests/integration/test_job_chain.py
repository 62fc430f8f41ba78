"""Claiming a named job in one statement, and follow-up jobs started at commit (`chain`):
duplicates, races, a lost announcement, rollbacks, the embedded dispatcher woken up, and the
scaled-out scheduler woken by a web process's NOTIFY (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from integration.jobs import chain, outbox
from integration.jobs.dispatcher import Dispatcher, run_job
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.listen import listener
from integration.storage.models import OutboxJob
from tests.conftest import BACKEND
from tests.helpers.concurrency import at_once

LEASE = timedelta(seconds=30)
ran: list[tuple[str, str]] = []  # (idempotency key, thread name), in the order they ran
ran_lock = threading.Lock()


def _ran(claimed: ClaimedJob) -> None:
    with ran_lock:
        ran.append((claimed.idempotency_key, threading.current_thread().name))


@job("test.chain.parent")
def parent(runtime: Runtime, claimed: ClaimedJob) -> None:
    """Writes its follow-ups in its own transaction, as `inbox.process` queues the forward."""
    _ran(claimed)
    with runtime.db.write() as session:
        for child in claimed.payload["children"]:
            outbox.enqueue(session, "test.chain.leaf", child, {}, runtime.clock.now(),
                           serial_key=claimed.payload.get("serial_key"))


@job("test.chain.leaf")
def leaf(_runtime: Runtime, claimed: ClaimedJob) -> None:
    _ran(claimed)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    ran.clear()
    yield
    chain.set_announcer(None)


def add(runtime: Runtime, kind: str, key: str, serial: str | None = None,
        **payload: object) -> int:
    with runtime.db.write() as session:
        outbox.enqueue(session, kind, key, dict(payload), runtime.clock.now(),
                       serial_key=serial)
    return row(runtime, key).id


def row(runtime: Runtime, key: str) -> OutboxJob:
    with runtime.db.read() as session:
        return session.scalars(select(OutboxJob).where(OutboxJob.idempotency_key == key)).one()


def claim(runtime: Runtime, job_id: int, owner: str = "w", ahead: float = 0.0
          ) -> ClaimedJob | None:
    with runtime.db.write() as session:
        return outbox.claim_one(session, job_id, owner,
                                runtime.clock.now() + timedelta(seconds=ahead), LEASE)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_claim_one_takes_a_due_job_once_and_refuses_every_stale_message(
        runtime: Runtime) -> None:
    job_id = add(runtime, "test.chain.leaf", "once")
    first = claim(runtime, job_id, "a")
    assert first is not None and (first.kind, first.attempt, first.lease_owner) == (
        "test.chain.leaf", 1, "a")
    assert claim(runtime, job_id, "b") is None  # a duplicate message: it is running
    assert claim(runtime, 10_000) is None  # no such job
    with runtime.db.write() as session:
        assert outbox.complete(session, first, runtime.clock.now()) is True
        assert outbox.complete(session, first, runtime.clock.now()) is False  # not twice
    assert claim(runtime, job_id, "c") is None  # done
    done = row(runtime, "once")
    assert (done.state, done.attempts, done.lease_owner) == (outbox.DONE, 1, None)


def test_claim_one_respects_due_times_leases_and_serial_keys(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        outbox.enqueue(session, "test.chain.leaf", "later", {}, now,
                       run_at=now + timedelta(minutes=5))
        outbox.enqueue(session, "test.chain.leaf", "s1", {}, now, serial_key="shipment:1")
        outbox.enqueue(session, "test.chain.leaf", "s2", {}, now, serial_key="shipment:1")
    later, s1, s2 = (row(runtime, key).id for key in ("later", "s1", "s2"))
    assert claim(runtime, later) is None  # not due yet
    assert claim(runtime, later, ahead=301) is not None
    taken = claim(runtime, s1, "a")
    assert taken is not None
    assert claim(runtime, s2, "b") is None  # its serial key is busy
    # The first worker died: once its lease ran out, the job is taken over (a new attempt),
    # and the dead worker can no longer finish it.
    again = claim(runtime, s1, "b", ahead=LEASE.total_seconds() + 1)
    assert again is not None and again.attempt == 2
    with runtime.db.write() as session:
        assert outbox.complete(session, taken, runtime.clock.now()) is False
        assert outbox.complete(session, again, runtime.clock.now()) is True
    assert claim(runtime, s2, "b") is not None  # now its turn


def test_workers_racing_for_one_message_claim_it_once(runtime: Runtime) -> None:
    def race(job_id: int) -> list[ClaimedJob]:
        won: list[ClaimedJob] = []
        errors = at_once(lambda: won.extend(c for c in [claim(runtime, job_id)] if c), times=4)
        assert not errors
        return won

    for attempt in range(5):
        assert len(race(add(runtime, "test.chain.leaf", f"race-{attempt}"))) == 1


def test_a_follow_up_runs_next_in_the_same_thread_claimed_with_the_completion(
        runtime: Runtime) -> None:
    announced: list[int] = []
    chain.set_announcer(announced.extend)
    parent_id = add(runtime, "test.chain.parent", "p", children=["c1", "c2"])
    assert announced == [parent_id]  # committed outside any job: the process hears of it
    announced.clear()
    claimed = claim(runtime, parent_id)
    assert claimed is not None
    run_job(runtime, claimed)
    me = threading.current_thread().name
    assert ran == [("p", me), ("c1", me)]  # the first follow-up ran at once, right here
    assert (row(runtime, "c1").state, row(runtime, "c1").attempts) == (outbox.DONE, 1)
    assert announced == [row(runtime, "c2").id]  # the other is left to the process
    assert row(runtime, "c2").state == outbox.PENDING
    # The announcement reaching a worker, or a duplicate one: it runs once either way.
    c2 = claim(runtime, announced[0])
    assert c2 is not None
    assert claim(runtime, announced[0]) is None
    run_job(runtime, c2)
    assert Counter(key for key, _ in ran) == {"p": 1, "c1": 1, "c2": 1}


def test_a_follow_up_whose_serial_key_is_busy_is_announced_not_run(runtime: Runtime) -> None:
    announced: list[int] = []
    chain.set_announcer(announced.extend)
    blocker = claim(runtime, add(runtime, "test.chain.leaf", "blocker", serial="order:9"))
    assert blocker is not None
    parent_id = add(runtime, "test.chain.parent", "p", children=["c"], serial_key="order:9")
    announced.clear()
    claimed = claim(runtime, parent_id)
    assert claimed is not None
    run_job(runtime, claimed)
    assert [key for key, _ in ran] == ["p"]
    assert announced == [row(runtime, "c").id] and row(runtime, "c").state == outbox.PENDING


def test_unchained_runs_announce_and_a_rolled_back_job_is_never_announced(
        runtime: Runtime) -> None:
    announced: list[int] = []
    chain.set_announcer(announced.extend)
    claimed = claim(runtime, add(runtime, "test.chain.parent", "p", children=["c"]))
    assert claimed is not None
    announced.clear()
    run_job(runtime, claimed, chained=False)
    assert [key for key, _ in ran] == ["p"] and announced == [row(runtime, "c").id]
    announced.clear()

    with pytest.raises(RuntimeError), runtime.db.write() as session:
        outbox.enqueue(session, "test.chain.leaf", "rolled-back", {}, runtime.clock.now())
        raise RuntimeError("the state change failed")
    with runtime.db.write() as session:  # the same kind of session commits something else
        outbox.enqueue(session, "test.chain.leaf", "later", {}, runtime.clock.now(),
                       run_at=runtime.clock.now() + timedelta(hours=1))
    assert announced == []  # neither the rolled-back job nor one that is not due yet
    with runtime.db.read() as session:
        assert session.scalar(select(OutboxJob).where(
            OutboxJob.idempotency_key == "rolled-back")) is None


def test_a_failing_announcer_loses_nothing(runtime: Runtime) -> None:
    """A crash between the commit and the send, or Redis away: the commit stands, and the job
    is found by the sweep once its queued mark has passed."""
    def down(_ids: object) -> None:
        raise ConnectionError("Redis is away")

    grace = timedelta(seconds=60)
    chain.set_announcer(down, queued_for=grace)
    job_id = add(runtime, "test.chain.leaf", "lost-send")  # no exception reaches the caller
    now = runtime.clock.now()
    with runtime.db.write() as session:  # marked as queued: the sweep does not resend at once
        assert outbox.mark_for_queue(session, now, grace, 10, LEASE) == []
    with runtime.db.write() as session:
        assert outbox.mark_for_queue(session, now + grace + timedelta(seconds=1), grace, 10,
                                     LEASE) == [job_id]
    assert claim(runtime, job_id) is not None


def test_the_embedded_dispatcher_starts_a_new_job_without_waiting_for_its_poll(
        runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={
        "dispatcher": runtime.settings.dispatcher.model_copy(update={
            "poll_interval_seconds": 3600.0})})
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    try:
        add(runtime, "test.chain.parent", "woken", children=["w1", "w2"])
        wait_for(lambda: all(row(runtime, key).state == outbox.DONE
                             for key in ("woken", "w1", "w2")))
    finally:
        dispatcher.stop(timeout=5)
    assert Counter(key for key, _ in ran) == {"woken": 1, "w1": 1, "w2": 1}


class _Broker:
    """Records what the scheduler's sweep sends (the job ids)."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def enqueue(self, message: object) -> None:
        self.sent.append(message.args[0])  # type: ignore[attr-defined]


class _NoJumps:
    def check(self) -> None:
        pass


@pytest.mark.skipif(BACKEND != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
def test_a_web_process_wakes_the_scheduler_with_notify(runtime: Runtime) -> None:
    """Scaled out: a job stored by a web process (the intake's driver path, or the ORM) is
    queued by the scheduler at once, not at its next sweep; a rolled-back one wakes nobody."""
    from integration.jobs import inbox
    from integration.scheduling import process

    runtime.settings = runtime.settings.model_copy(update={
        "workers": runtime.settings.workers.model_copy(update={
            "sweep_interval_seconds": 3600.0})})
    broker, stop = _Broker(), threading.Event()
    woken = listener(runtime.db, chain.NOTIFY_CHANNEL)
    assert woken is not None
    sweeper = threading.Thread(target=process._sweep_until_stopped, args=(
        runtime, broker, stop, _NoJumps(), timedelta(seconds=60), woken), daemon=True)
    chain.set_notify(True)
    try:
        sweeper.start()
        wait_for(lambda: len(broker.sent) == 0 and sweeper.is_alive())
        stored = inbox.record_directly(runtime.db, inbox.Delivery(
            source="test", topic="t", dedupe_key="d1", headers={}, body=b"{}"),
            runtime.clock.now())
        assert stored is not None
        wait_for(lambda: broker.sent == [row(runtime, f"inbox:{stored}").id])
        job_id = add(runtime, "test.chain.leaf", "orm-path")
        wait_for(lambda: broker.sent[-1:] == [job_id])
    finally:
        stop.set()
        add(runtime, "test.chain.leaf", "wake-to-stop")  # its wait ends at a notification
        sweeper.join(20)
        chain.set_notify(False)
        woken.close()
    assert not sweeper.is_alive()
    probe = listener(runtime.db, chain.NOTIFY_CHANNEL)
    assert probe is not None
    try:
        chain.set_notify(True)
        with pytest.raises(RuntimeError), runtime.db.write() as session:
            outbox.enqueue(session, "test.chain.leaf", "rolled-back", {}, runtime.clock.now())
            raise RuntimeError("the state change failed")
        assert probe.wait(0.3) is False
        add(runtime, "test.chain.leaf", "committed")
        assert probe.wait(20) is True
    finally:
        chain.set_notify(False)
        probe.close()
