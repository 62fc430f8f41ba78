"""bench/push_to_page.py still runs: a few seconds of signed 17TRACK pushes through the
embedded layout (one `droptrack serve` on SQLite) into the Shopify sandbox process, and its
exactly-once check (one IN_TRANSIT fulfillment event per push, none for a parcel not pushed,
the order-status view in transit for every pushed order)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_benchmark_writes_every_push_back_exactly_once(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "push_to_page.py"), "--layout", "embedded",
         "--rates", "5", "--duration", "2", "--warmup", "3", "--drain-timeout", "60",
         "--json", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=170, check=False)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    report = json.loads(results.read_text())
    assert report["exactly_once"], report["exactly_once_text"]
    [phase] = report["phases"]
    assert (phase["pushes"], phase["stored"], phase["intake_errors"]) == (10, 10, 0)
    assert "| pushes/s |" in run.stdout
