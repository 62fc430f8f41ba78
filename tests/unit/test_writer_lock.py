"""The SQLite writer lock: one holder across threads and processes, released when a holder dies."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from integration.storage.writer_lock import WriterLock

HOLD_IN_CHILD = """
import sys, time
from integration.storage.writer_lock import WriterLock
with WriterLock(sys.argv[1]).held():
    print("held", flush=True)
    time.sleep(60)
"""


def test_threads_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db-writer.lock"))
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most_inside
        for _ in range(50):
            with lock.held():
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside == 1


def test_reentrant_within_a_thread(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db-writer.lock"))
    with lock.held(), lock.held():
        pass
    with lock.held():  # still usable: the inner exit did not leave it half released
        pass


def test_in_memory_database_uses_the_thread_lock_only() -> None:
    lock = WriterLock(None)
    with lock.held():
        pass


@pytest.mark.timeout(60)
def test_another_process_waits_until_the_holder_is_killed(tmp_path: Path) -> None:
    path = str(tmp_path / "db-writer.lock")
    child = subprocess.Popen([sys.executable, "-c", HOLD_IN_CHILD, path],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        lock = WriterLock(path)
        acquired = threading.Event()

        def take() -> None:
            with lock.held():
                acquired.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not acquired.wait(0.5), "the lock was taken while another process held it"
        child.kill()  # the kernel releases a dead holder's flock
        assert acquired.wait(10), "the lock was not free after its holder died"
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
