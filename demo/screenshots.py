"""Regenerate the README's screenshots from the current pages: `scripts/screenshots`.

Runs the demo (a fresh one in a temporary folder, on a free port, at high speed), waits until
both stores' customer pages show tracking beyond "shipped", then walks the main pages with
demo.walk in Chromium at 1280 px, checks them and saves docs/images/<page>.png. Exits non-zero
(and saves nothing half-done over the old images) when a check finds a problem.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from demo.walk import CHROMIUM, CHROMIUM_ARGS, customer_stops, owner_stops, sign_in, walk

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
WAIT_SECONDS = 120.0


class _Output:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while time.monotonic() < deadline:
                found = re.search(pattern, "".join(self.lines))
                if found:
                    return found
                self._changed.wait(1.0)
        raise SystemExit(f"the demo never printed {pattern!r}:\n{''.join(self.lines)[-3000:]}")


def capture(images: Path = IMAGES) -> list[str]:
    """Run the demo, walk its pages into `images`; the walk's findings (empty: all good)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="droptrack-screenshots-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
        process = subprocess.Popen(  # noqa: S603 (a fixed command: this Python, our CLI)
            [sys.executable, "-m", "integration.cli", "demo", "--port", "0", "--speed",
             "28800", "--duration", str(int(WAIT_SECONDS * 2))], cwd=folder, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output = _Output(process)
            base = output.wait_for(r"Dashboard\s+(http://127\.0\.0\.1:\d+)/admin").group(1)
            login = output.wait_for(r"sign in with\s+(\S+) / (\S+)")
            shopify = output.wait_for(r"Shopify order #\d+ is now '[^']+' on the store's "
                                      r"page:\s+(\S+)").group(1)
            woo = output.wait_for(r"WooCommerce order \d+ is now '[^']+' on the store's "
                                  r"page:\s+(\S+)").group(1)
            output.wait_for(r"-> Delivered")  # the charts have deliveries to show
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                     args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    sign_in(page, base, login.group(1), login.group(2))
                    page.goto(f"{base}/admin/orders")
                    order_path = page.locator("table a").first.get_attribute("href") or ""
                    with tempfile.TemporaryDirectory() as fresh:
                        findings = walk(page, owner_stops(base, order_path)
                                        + customer_stops(shopify, woo), Path(fresh))
                        if not findings:
                            images.mkdir(parents=True, exist_ok=True)
                            for image in Path(fresh).glob("*.png"):
                                os.replace(image, images / image.name)
                finally:
                    browser.close()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
    return findings


def main() -> None:
    findings = capture()
    if findings:
        raise SystemExit("The pages have problems (no image replaced):\n" + "\n".join(findings))
    print(f"Screenshots saved in {IMAGES}")


if __name__ == "__main__":
    main()
