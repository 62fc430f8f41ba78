"""The README's run command, parsed from README.md and run exactly as written, brings the demo
up on the embedded default; within 3 minutes the dashboard holds orders in six statuses and
both stores' customer pages show tracking beyond "shipped". Then Ctrl-C stops it cleanly.

This runs the real script from the repository root (its virtualenv is the one the test command
just made, so nothing is installed twice) while something else listens on the demo's default
port, 8080 (as another demo on the same machine would): the demo must take a free port and say
which, and the test reads the dashboard's address from what it prints.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow, pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("TEST_DATABASE_BACKEND") == "postgresql",
                       reason="the demo always runs on its own SQLite: tested in the SQLite pass"),
]


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", quick_start, re.S)]


def statuses(database: Path) -> set[str]:
    if not database.exists():
        return set()
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        try:
            return {row[0] for row in connection.execute("SELECT DISTINCT status FROM orders")}
        except sqlite3.OperationalError:
            return set()


@pytest.fixture
def default_port_taken() -> Iterator[None]:
    """Something listens on 8080 during the test (unless something already does)."""
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 8080))
            holder.listen()
        except OSError:
            pass  # already taken by someone else: just as good
        yield
    finally:
        holder.close()


def test_the_readme_run_command_as_written_brings_the_demo_up(default_port_taken: None) -> None:
    run_command, test_command = readme_commands()
    assert (run_command, test_command) == ("./scripts/run", "./scripts/test")
    shutil.rmtree(ROOT / "var" / "demo", ignore_errors=True)  # no statuses from an old run
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    process = subprocess.Popen(["bash", "-c", run_command], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    database = ROOT / "var" / "demo" / "droptrack.db"
    lines: list[str] = []
    changed = threading.Condition()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with changed:
                lines.append(line)
                changed.notify_all()
        with changed:
            changed.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def output() -> str:
        with changed:
            return "".join(lines)

    try:
        started = time.monotonic()
        dashboard: re.Match[str] | None = None
        with changed:  # wait for the banner (woken by each line the demo prints)
            while dashboard is None and process.poll() is None \
                    and time.monotonic() - started < 240:
                dashboard = re.search(r"Dashboard\s+(http://127\.0\.0\.1:(\d+))/admin",
                                      "".join(lines))
                if dashboard is None:
                    changed.wait(5)
        assert dashboard is not None, output()[-3000:]
        assert dashboard.group(2) != "8080", "the demo took a port that was taken"
        seen: set[str] = set()
        while time.monotonic() - started < 240:  # install check + start + 3 minutes of story
            assert process.poll() is None, output()[-3000:]
            seen = statuses(database)
            if len(seen) >= 6:
                break
            with changed:  # polls the database at most every 2 s, or as the demo prints
                changed.wait(2)
        assert len(seen) >= 6, f"statuses after 4 minutes: {sorted(seen)}"
        assert requests.get(f"{dashboard.group(1)}/healthz", timeout=5).status_code == 200
        assert seen & {"in_transit", "out_for_delivery", "delivered", "ready_for_pickup"}
    finally:
        # Stop the demo whatever happened above, but never let the clean-up hide the test's
        # own failure: a demo that does not stop is killed, and reported after.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
    text = output()
    assert process.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert "/admin" in text and "/track" in text
