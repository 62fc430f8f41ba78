"""A real dispatcher in its own process, for crash tests (run with `python -m`).

It registers one job kind, `test.call_supplier`, whose side effect is an HTTP POST carrying the
job's idempotency key (as a supplier order would). With HANG_AFTER_EFFECT=1 the handler blocks
after the side effect, so the test can SIGKILL the process between effect and completion.
Configuration comes from DROPTRACK_* variables like the real CLI.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import requests

from integration.base.config import load_settings
from integration.jobs.dispatcher import Dispatcher
from integration.jobs.outbox import ClaimedJob, RetryableError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime, build_runtime

KIND = "test.call_supplier"


@job(KIND)
def call_supplier(runtime: Runtime, claimed: ClaimedJob) -> None:
    try:
        response = requests.post(
            claimed.payload["url"], json={"order": claimed.payload["order"]},
            headers={"Idempotency-Key": claimed.idempotency_key}, timeout=10,
        )
    except requests.RequestException as exc:
        raise RetryableError(str(exc)) from exc
    response.raise_for_status()
    if os.environ.get("HANG_AFTER_EFFECT") == "1":
        threading.Event().wait()


def main() -> None:
    runtime = build_runtime(load_settings())
    dispatcher = Dispatcher(runtime)
    stopped = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    dispatcher.start()
    print("dispatcher ready", flush=True)
    stopped.wait()
    dispatcher.stop()


if __name__ == "__main__":
    main()
