"""Waiting for a DropTrack started as a separate process to answer (polling, with a deadline)."""

from __future__ import annotations

import subprocess
import time

import requests


def wait_until_healthy(base: str, process: subprocess.Popen[str], *,
                       timeout: float = 90.0) -> None:
    """Poll `base`/healthz until it answers 200; fail with the process's errors if it exits
    first, or when `timeout` seconds pass (a loaded CI machine can be slow to import)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            errors = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"the process exited with {process.returncode}: {errors}")
        assert time.monotonic() < deadline, f"nothing answered {base}/healthz"
        time.sleep(0.1)
