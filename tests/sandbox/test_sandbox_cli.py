"""Each sandbox starts alone from the command line and answers like its platform."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers.served import Announced

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "path", "status", "expect"), [
    ("shopify", "/admin/api/2026-07/graphql.json", 404, "Not Found"),  # no such shop yet
    ("woocommerce", "/wp-json/", 200, "wc/v3"),
    ("supplier", "/v1/orders/SO1", 401, "unauthorized"),
    ("aftership", "/tracking/2026-07/trackings", 401, "Invalid API key"),  # no as-api-key
    ("dhl", "/track/shipments?trackingNumber=JJD1", 401, "Invalid API key"),
])
def test_sandbox_starts_from_the_cli(name: str, path: str, status: int, expect: str,
                                     tmp_path: Path) -> None:
    served = Announced(
        [sys.executable, "-m", "integration.cli", "sandbox", name, "--port", "0"],
        announce=f"{name} sandbox on", cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.STDOUT)
    try:  # it binds before it says where, so the first request finds it listening
        method = requests.post if name == "shopify" else requests.get
        response = method(f"{served.url}{path}", timeout=10,
                          headers={"Host": "demo.myshopify.com"} if name == "shopify" else {})
        assert response.status_code == status, response.text
        assert expect in response.text
    finally:
        # generous: a busy machine stops slowly; a sandbox that hangs is killed and fails below
        output, _ = served.stop(signal.SIGINT, timeout=180)
    assert served.process.returncode == 0, output
    assert served.url.startswith("http://127.0.0.1:") and not served.url.endswith(":0")
