"""The outbox and its dispatcher: leases, retries with backoff, dead letters, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from integration.base.config import Settings
from integration.jobs import leases, outbox
from integration.jobs.dispatcher import Dispatcher
from integration.jobs.leases import LeaseKeeper
from integration.jobs.outbox import ClaimedJob, PermanentError, RetryableError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime, build_runtime
from integration.storage.models import OutboxJob
from tests.conftest import make_settings
from tests.helpers.processes import stop
from tests.helpers.recorder import Recorder

REPO = Path(__file__).resolve().parents[2]
calls: Counter[str] = Counter()
calls_lock = threading.Lock()


def _count(claimed: ClaimedJob) -> int:
    with calls_lock:
        calls[claimed.idempotency_key] += 1
        return calls[claimed.idempotency_key]


@job("test.flaky")
def flaky(_runtime: Runtime, claimed: ClaimedJob) -> None:
    if _count(claimed) <= claimed.payload["failures"]:
        raise RetryableError("supplier answered 503")


@job("test.invalid")
def invalid(_runtime: Runtime, claimed: ClaimedJob) -> None:
    _count(claimed)
    raise PermanentError("supplier answered 422: unknown SKU")


@job("test.count")
def count_only(_runtime: Runtime, claimed: ClaimedJob) -> None:
    _count(claimed)
    time.sleep(0.002)


@job("test.slow")
def slow(_runtime: Runtime, claimed: ClaimedJob) -> None:
    _count(claimed)
    time.sleep(float(claimed.payload["seconds"]))


def enqueue(runtime: Runtime, kind: str, key: str, max_attempts: int = 8,
            **payload: object) -> None:
    with runtime.db.write() as session:
        outbox.enqueue(session, kind, key, dict(payload), runtime.clock.now(),
                       max_attempts=max_attempts)


def job_row(runtime: Runtime, key: str) -> OutboxJob:
    with runtime.db.read() as session:
        return session.scalars(select(OutboxJob).where(OutboxJob.idempotency_key == key)).one()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def dispatcher(runtime: Runtime) -> Iterator[Dispatcher]:
    instance = Dispatcher(runtime)
    instance.start()
    yield instance
    instance.stop()


def test_enqueue_is_idempotent_per_key(runtime: Runtime) -> None:
    with runtime.db.write() as session:
        now = runtime.clock.now()
        assert outbox.enqueue(session, "test.count", "k1", {}, now) is True
        assert outbox.enqueue(session, "test.count", "k1", {"other": 1}, now) is False
    with runtime.db.read() as session:
        assert len(session.scalars(select(OutboxJob)).all()) == 1


def test_expired_lease_is_claimed_again_and_stale_owner_cannot_finish(runtime: Runtime) -> None:
    enqueue(runtime, "test.count", "lease")
    now = runtime.clock.now()
    with runtime.db.write() as session:
        [first] = outbox.claim_due(session, "worker-a", now, timedelta(seconds=30), 10)
    with runtime.db.write() as session:
        assert outbox.claim_due(session, "worker-b", now, timedelta(seconds=30), 10) == []
    later = now + timedelta(seconds=31)
    with runtime.db.write() as session:
        [second] = outbox.claim_due(session, "worker-b", later, timedelta(seconds=30), 10)
    assert second.attempt == 2
    with runtime.db.write() as session:
        assert outbox.complete(session, first, later) is False
        assert outbox.complete(session, second, later) is True
    assert job_row(runtime, "lease").state == outbox.DONE


def test_retryable_failures_back_off_then_succeed(runtime: Runtime,
                                                  dispatcher: Dispatcher) -> None:
    enqueue(runtime, "test.flaky", "flaky-1", failures=2)
    wait_for(lambda: job_row(runtime, "flaky-1").state == outbox.DONE)
    row = job_row(runtime, "flaky-1")
    assert row.attempts == 3
    assert calls["flaky-1"] == 3
    assert row.last_error is None


def test_backoff_grows_and_honours_retry_after(runtime: Runtime) -> None:
    enqueue(runtime, "test.flaky", "backoff", failures=99)
    now = runtime.clock.now()
    delays = []
    for _ in range(4):
        with runtime.db.write() as session:
            [claimed] = outbox.claim_due(session, "w", now + timedelta(days=1),
                                         timedelta(seconds=30), 1)
            outbox.fail(session, claimed, RetryableError("503"), now, 10, 10_000)
        delays.append((job_row(runtime, "backoff").next_run_at - now).total_seconds())
    assert 5 <= delays[0] <= 10
    assert 5 <= delays[1] <= 20
    assert 5 <= delays[3] <= 80
    with runtime.db.write() as session:
        [claimed] = outbox.claim_due(session, "w", now + timedelta(days=1),
                                     timedelta(seconds=30), 1)
        outbox.fail(session, claimed, RetryableError("429", retry_after_seconds=900), now, 1, 2)
    assert (job_row(runtime, "backoff").next_run_at - now).total_seconds() >= 900


def test_permanent_error_is_dead_lettered_at_once(runtime: Runtime,
                                                  dispatcher: Dispatcher) -> None:
    enqueue(runtime, "test.invalid", "invalid-1")
    wait_for(lambda: job_row(runtime, "invalid-1").state == outbox.DEAD)
    row = job_row(runtime, "invalid-1")
    assert row.attempts == 1
    assert row.last_error == "PermanentError: supplier answered 422: unknown SKU"


def test_exhausted_retries_are_dead_lettered_and_replay_runs_again(
        runtime: Runtime, dispatcher: Dispatcher) -> None:
    enqueue(runtime, "test.flaky", "flaky-2", max_attempts=3, failures=4)
    wait_for(lambda: job_row(runtime, "flaky-2").state == outbox.DEAD)
    assert job_row(runtime, "flaky-2").attempts == 3
    with runtime.db.write() as session:
        assert outbox.replay(session, job_row(runtime, "flaky-2").id, runtime.clock.now())
    wait_for(lambda: job_row(runtime, "flaky-2").state == outbox.DONE)
    assert calls["flaky-2"] == 5


def test_unknown_job_kind_is_dead_lettered(runtime: Runtime, dispatcher: Dispatcher) -> None:
    enqueue(runtime, "no.such.kind", "unknown-1")
    wait_for(lambda: job_row(runtime, "unknown-1").state == outbox.DEAD)
    assert "no handler" in (job_row(runtime, "unknown-1").last_error or "")


def test_two_dispatchers_run_each_job_exactly_once(runtime: Runtime) -> None:
    keys = [f"many-{n}" for n in range(60)]
    for key in keys:
        enqueue(runtime, "test.count", key)
    first, second = Dispatcher(runtime), Dispatcher(runtime)
    first.start()
    second.start()
    try:
        wait_for(lambda: all(calls[key] >= 1 for key in keys), timeout=60)
        wait_for(lambda: all(job_row(runtime, key).state == outbox.DONE for key in keys[-3:]))
    finally:
        first.stop()
        second.stop()
    assert [calls[key] for key in keys] == [1] * len(keys)
    with runtime.db.read() as session:
        states = Counter(session.scalars(select(OutboxJob.state)))
    assert states == {outbox.DONE: len(keys)}


def test_a_job_outliving_its_lease_is_not_taken_over_while_its_worker_lives(
        database_url: str, runtime: Runtime) -> None:
    """A job that runs three leases long (a long wait for a shop's budget) on one of two
    worker processes: its lease is renewed while it runs, so it runs once."""
    def short_lease_runtime() -> Runtime:
        return build_runtime(make_settings(database_url, dispatcher={
            "lease_seconds": 0.6, "poll_interval_seconds": 0.05}))

    enqueue(runtime, "test.slow", "outlives-lease", seconds=1.8)
    workers = [short_lease_runtime(), short_lease_runtime()]
    dispatchers = [Dispatcher(worker) for worker in workers]
    for instance in dispatchers:
        instance.start()
    try:
        wait_for(lambda: job_row(runtime, "outlives-lease").state == outbox.DONE, timeout=30)
        time.sleep(0.7)  # a second run, had one started, would have counted by now
    finally:
        for instance in dispatchers:
            instance.stop()
        for worker in workers:
            worker.close()
    assert calls["outlives-lease"] == 1
    assert job_row(runtime, "outlives-lease").attempts == 1


def test_renewal_keeps_only_the_leases_a_worker_still_holds(runtime: Runtime) -> None:
    enqueue(runtime, "test.count", "renew")
    now, lease = runtime.clock.now(), timedelta(seconds=30)
    with runtime.db.write() as session:
        [first] = outbox.claim_due(session, "worker-a", now, lease, 10)
    with runtime.db.write() as session:  # renewed before it ran out: nobody else may take it
        assert outbox.renew_leases(session, [first], now + timedelta(seconds=20),
                                   lease) == {(first.id, "worker-a")}
    with runtime.db.write() as session:
        assert outbox.claim_due(session, "worker-b", now + timedelta(seconds=31), lease, 10) == []
    later = now + timedelta(seconds=51)  # worker-a stalled past its renewed lease
    with runtime.db.write() as session:
        [second] = outbox.claim_due(session, "worker-b", later, lease, 10)
    keeper = LeaseKeeper(runtime.db, runtime.clock, lease)
    lost: list[ClaimedJob] = []
    keeper.on_lost = lost.append
    with keeper.holding(first), keeper.holding(second):
        keeper.renew_now()
        keeper.renew_now()  # a lost lease is reported once
    keeper.close()
    assert lost == [first]
    with runtime.db.write() as session:
        assert outbox.complete(session, first, later) is False
        assert outbox.complete(session, second, later) is True
        assert outbox.renew_leases(session, [second], later, lease) == set()  # finished


def _dispatcher_env(settings: Settings, hang: bool) -> dict[str, str]:
    return {
        **os.environ,
        "DROPTRACK_DATABASE_URL": settings.database.url,
        "DROPTRACK_SECURITY_SECRET_KEY": settings.security.secret_key,
        "DROPTRACK_SECURITY_ENCRYPTION_KEYS": ",".join(settings.security.encryption_keys),
        "DROPTRACK_DISPATCHER_LEASE_SECONDS": "2",
        "DROPTRACK_DISPATCHER_POLL_INTERVAL_SECONDS": "0.1",
        "HANG_AFTER_EFFECT": "1" if hang else "0",
    }


def _start_dispatcher_process(settings: Settings, hang: bool) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.dispatcher_process"], cwd=REPO,
        env=_dispatcher_env(settings, hang), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "dispatcher ready"
    return process


def _stop(process: subprocess.Popen[str], signum: int) -> None:
    stop(process, signum, 20)  # never raises: the caller asserts the exit code


@pytest.mark.slow
def test_job_killed_mid_run_runs_again_after_restart_with_one_side_effect(
        runtime: Runtime, settings: Settings) -> None:
    with Recorder() as supplier:
        enqueue(runtime, "test.call_supplier", "supplier-order:42",
                url=supplier.url, order="#1042")
        crashed = _start_dispatcher_process(settings, hang=True)
        try:
            wait_for(lambda: supplier.requests["supplier-order:42"] == 1)
            assert job_row(runtime, "supplier-order:42").state == outbox.RUNNING
        finally:
            _stop(crashed, signal.SIGKILL)
        assert crashed.returncode == -signal.SIGKILL
        assert job_row(runtime, "supplier-order:42").state == outbox.RUNNING

        restarted = _start_dispatcher_process(settings, hang=False)
        try:
            wait_for(lambda: job_row(runtime, "supplier-order:42").state == outbox.DONE)
        finally:
            _stop(restarted, signal.SIGTERM)
        assert restarted.returncode == 0
    row = job_row(runtime, "supplier-order:42")
    assert row.attempts == 2
    assert supplier.requests["supplier-order:42"] == 2
    assert list(supplier.orders) == ["supplier-order:42"]
    assert supplier.orders["supplier-order:42"] == {"order": "#1042"}


def test_jobs_with_one_serial_key_run_one_at_a_time(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for key in ("w1", "w2"):
            outbox.enqueue(session, "test.count", key, {}, now, serial_key="shipment:7")
        outbox.enqueue(session, "test.count", "other", {}, now, serial_key="shipment:8")
    lease = timedelta(seconds=30)
    with runtime.db.write() as session:
        first = outbox.claim_due(session, "a", now, lease, 10)
    assert sorted(job.idempotency_key for job in first) == ["other", "w1"]
    with runtime.db.write() as session:
        assert outbox.claim_due(session, "b", now, lease, 10) == []
        outbox.complete(session, next(j for j in first if j.idempotency_key == "w1"), now)
    with runtime.db.write() as session:
        assert [j.idempotency_key for j in outbox.claim_due(session, "b", now, lease, 10)] == [
            "w2"]


def test_a_busy_dispatcher_starts_the_next_job_as_soon_as_a_thread_is_free(
        runtime: Runtime) -> None:
    """With every thread busy the dispatcher waits for a thread, not a poll interval: one
    thread runs a queue of jobs back to back (it used to sleep a poll interval between
    them)."""
    runtime.settings = runtime.settings.model_copy(update={
        "dispatcher": runtime.settings.dispatcher.model_copy(update={
            "threads": 1, "poll_interval_seconds": 30.0})})
    keys = [f"back-to-back-{n}" for n in range(3)]
    for key in keys:
        enqueue(runtime, "test.count", key)
    instance = Dispatcher(runtime)
    instance.start()
    try:
        wait_for(lambda: all(job_row(runtime, key).state == outbox.DONE for key in keys),
                 timeout=20)
    finally:
        instance._stop.set()  # stop() would wait up to one poll interval for the loop
        instance.stop(timeout=0.1)


def test_a_forked_process_runs_its_own_lease_keeper(runtime: Runtime) -> None:
    """A worker process forked after its parent kept leases (the parent's keeper thread does
    not exist in the child) starts a keeper of its own for the jobs it runs."""
    enqueue(runtime, "test.count", "forked")
    with runtime.db.write() as session:
        [claimed] = outbox.claim_due(session, "parent", runtime.clock.now(),
                                     timedelta(seconds=30), 10)
    with leases.keeper(runtime).holding(claimed):
        pass  # the parent's keeper thread is running now
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit code)
        code = 3
        try:
            with leases.keeper(runtime).holding(claimed):
                keepers = [t for t in threading.enumerate()
                           if t.name == "lease-keeper" and t.is_alive()]
                code = 0 if keepers else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
