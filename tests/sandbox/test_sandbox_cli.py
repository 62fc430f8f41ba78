"""Each sandbox starts alone from the command line and answers like its platform."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("name", "path", "status", "expect"), [
    ("shopify", "/admin/api/2026-07/graphql.json", 404, "Not Found"),  # no such shop yet
    ("woocommerce", "/wp-json/", 200, "wc/v3"),
    ("supplier", "/v1/orders/SO1", 401, "unauthorized"),
    ("aftership", "/tracking/2026-07/trackings", 401, "Invalid API key"),  # no as-api-key
    ("dhl", "/track/shipments?trackingNumber=JJD1", 401, "Invalid API key"),
])
def test_sandbox_starts_from_the_cli(name: str, path: str, status: int, expect: str,
                                     tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "integration.cli", "sandbox", name, "--port", str(port)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                method = requests.post if name == "shopify" else requests.get
                response = method(f"http://127.0.0.1:{port}{path}", timeout=2,
                                  headers={"Host": "demo.myshopify.com"} if name == "shopify"
                                  else {})
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.2)
        assert response.status_code == status, response.text
        assert expect in response.text
    finally:
        process.send_signal(signal.SIGINT)
        try:  # generous: a busy machine stops slowly; a sandbox that hangs still fails
            output, _ = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert f"{name} sandbox on http://127.0.0.1:{port}" in output
