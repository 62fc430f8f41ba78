"""bench/intake_at_scale.py still runs: a few seconds of load through every real part
(gunicorn, scheduler, a Dramatiq worker, Redis, the supplier sandbox) and its exactly-once check.

PostgreSQL only, as the benchmark: it uses TEST_POSTGRES_URL instead of starting its own server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND, POSTGRES_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.database,
              pytest.mark.skipif(BACKEND != "postgresql",
                                 reason="the benchmark runs on PostgreSQL only")]


def test_benchmark_forwards_every_order_exactly_once(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    env = {**os.environ, "TEST_POSTGRES_URL": POSTGRES_ADMIN_URL}
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "intake_at_scale.py"), "--rates", "10",
         "--duration", "3", "--warmup", "5", "--web-workers", "1", "--job-workers", "1",
         "--no-baseline", "--quiet-limit", "0", "--drain-timeout", "60",
         "--json", str(results)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=170, check=False)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    report = json.loads(results.read_text())
    assert report["exactly_once"], report["exactly_once_text"]
    [phase] = report["phases"]
    assert phase["intake"]["errors"] == 0
    assert phase["intake"]["stored"] == 30
    assert "| offered orders/s |" in run.stdout
