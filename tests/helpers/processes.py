"""Stopping a test's subprocess in its clean-up without hiding the test's own failure.

A `finally:` that waits for a process with a timeout raises TimeoutExpired when the process
hangs, and that exception replaces whatever the test body raised. `stop` never raises for a
slow process: it kills it after the timeout and returns what it printed, so the test can assert
on the exit code after the clean-up (where a hang shows as a non-zero code, not as a masked
error).
"""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM,
         timeout: float = 30.0) -> tuple[str, str]:
    """Send `signum`, wait up to `timeout`, then SIGKILL; returns (stdout, stderr)."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        err = f"{err or ''}\n[test clean-up: no exit {timeout:g} s after {signum}; killed]"
    return out or "", err or ""
