"""The README's run command, parsed from README.md and run exactly as written, brings the demo
up on the embedded default; within 3 minutes the dashboard holds orders in six statuses and
both stores' customer pages show tracking beyond "shipped". Then Ctrl-C stops it cleanly.

This runs the real script from the repository root (its virtualenv is the one the test command
just made, so nothing is installed twice) on the demo's default port, 8080.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
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


def test_the_readme_run_command_as_written_brings_the_demo_up() -> None:
    run_command, test_command = readme_commands()
    assert (run_command, test_command) == ("./scripts/run", "./scripts/test")
    try:
        requests.get("http://127.0.0.1:8080/healthz", timeout=1)
        pytest.fail("port 8080 is taken: the demo's default port must be free for this test")
    except requests.ConnectionError:
        pass
    shutil.rmtree(ROOT / "var" / "demo", ignore_errors=True)  # no statuses from an old run
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    process = subprocess.Popen(["bash", "-c", run_command], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    database = ROOT / "var" / "demo" / "droptrack.db"
    try:
        started = time.monotonic()
        seen: set[str] = set()
        while time.monotonic() - started < 240:  # install check + start + 3 minutes of story
            assert process.poll() is None, process.communicate()[0][-3000:]
            seen = statuses(database)
            if len(seen) >= 6:
                break
            time.sleep(2)
        assert len(seen) >= 6, f"statuses after 4 minutes: {sorted(seen)}"
        assert requests.get("http://127.0.0.1:8080/healthz", timeout=5).status_code == 200
        assert seen & {"in_transit", "out_for_delivery", "delivered", "ready_for_pickup"}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "/admin" in output and "/track" in output
