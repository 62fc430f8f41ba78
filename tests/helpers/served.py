"""Starting DropTrack (or a sandbox) as a separate process on a port it binds itself, and
waiting for it to answer (polling, with a deadline)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from typing import Any

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


ANNOUNCED_URL = re.compile(r"(https?://[\w.\[\]:-]+:\d+)")


class Announced:
    """A process that binds its own port (port 0) and prints the address it got.

    Tests never pick a port for another process: a port found free and released can be taken
    by anything else on the machine before the process binds it. Its stdout (and stderr, when
    piped) is read on threads and kept in `lines` / `errors` until it exits, so a chatty
    process never blocks on a full pipe.
    """

    def __init__(self, command: list[str], *, announce: str, timeout: float = 90.0,
                 **popen: Any) -> None:
        self.process: subprocess.Popen[str] = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, **popen)
        self.lines: list[str] = []
        self.errors: list[str] = []
        found: queue.Queue[str | None] = queue.Queue()

        def read_out() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                if announce in line and (match := ANNOUNCED_URL.search(line)):
                    found.put(match.group(1))
            found.put(None)

        def read_errors() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.errors.append(line)

        self._readers = [threading.Thread(target=read_out, daemon=True)]
        if self.process.stderr is not None:
            self._readers.append(threading.Thread(target=read_errors, daemon=True))
        for reader in self._readers:
            reader.start()
        try:
            url = found.get(timeout=timeout)
        except queue.Empty:
            url = None
        if url is None:
            self.stop(signal.SIGKILL, 10)
            raise AssertionError(f"{command[:4]} never said '{announce}' (exit "
                                 f"{self.process.returncode}): {''.join(self.lines)}"
                                 f"{''.join(self.errors)}")
        self.url: str = url

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> tuple[str, str]:
        """Send `signum`, wait up to `timeout` (then SIGKILL); returns (stdout, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return "".join(self.lines), "".join(self.errors)


def start_droptrack_serve(command: list[str], **popen: Any) -> Announced:
    """`droptrack serve --port 0` (command: how to run droptrack, e.g. [droptrack] or
    [python, -m, integration.cli]); waits for its address, then for /healthz."""
    served = Announced([*command, "serve", "--port", "0"], announce="DropTrack listening on",
                       **popen)
    try:
        wait_until_healthy(served.url, served.process)
    except AssertionError as exc:  # its output was read by `served`: say it here
        out, errors = served.stop()
        raise AssertionError(f"{exc}\n{out}{errors}") from None
    except BaseException:
        served.stop()
        raise
    return served
