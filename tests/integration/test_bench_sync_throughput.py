"""bench/sync_throughput.py keeps working: the whole scenario at a tiny size, on the test
database backend (timings are printed, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.database
def test_the_sync_throughput_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    backend = os.environ.get("TEST_DATABASE_BACKEND", "sqlite")
    if backend == "postgresql" and not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("TEST_POSTGRES_URL is not set")
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sync_throughput.py"), "--shipments", "60",
         "--baseline-sample", "2", "--backend", backend, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["states"] == {"done": 12 + 5}  # 12 write-backs, one flush per Woo store
    assert result["throttled"] == 0
    assert 10 <= result["points_per_change"] < 30
    assert "| baseline: naive loop" in done.stdout
    # each WooCommerce store's status calls by kind, next to the floor of its batches
    assert "WooCommerce store 1 (remembered):" in result["details"]
    assert "batches at least" in result["details"]
