"""Running the same work from several threads at once, as several workers would."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(work: Callable[[], object], times: int = 2, timeout: float = 30.0
            ) -> list[BaseException]:
    """Run `work` in `times` threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(times)

    def run() -> None:
        start.wait(timeout)
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker did not finish"
    return errors
