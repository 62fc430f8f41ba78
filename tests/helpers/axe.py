"""Accessibility checks with axe-core, run inside the real Chromium of tests/helpers/browser.py.

axe-core comes from the npm registry, installed once into a cache folder
(`$AXE_CORE_DIR`, default `~/.cache/droptrack/axe-core`) with
`npm install --prefix <folder> axe-core@4`; scripts/test may do that up front. Pages run with
a CSP that allows only our own scripts, so the checking context bypasses CSP (that context
only: the pages' own headers are tested elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Page

AXE_DIR = Path(os.environ.get("AXE_CORE_DIR", Path.home() / ".cache" / "droptrack" / "axe-core"))
AXE_VERSION = "axe-core@4"
BLOCKING = ("serious", "critical")


def axe_path(folder: Path = AXE_DIR) -> Path:
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found: install Node.js (Debian: apt-get install npm) so the "
                    f"accessibility tests can fetch {AXE_VERSION}, or put axe-core in "
                    f"{folder}/node_modules (AXE_CORE_DIR picks another folder)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(folder), AXE_VERSION, "--no-audit",
                           "--no-fund", "--loglevel=error"], capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0 or not script.exists():
        pytest.fail(f"npm install {AXE_VERSION} failed ({done.returncode}): "
                    f"{done.stderr.strip()[-800:]}")
    return script


@dataclass(frozen=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: list[str]

    def __str__(self) -> str:
        return f"{self.impact} {self.id}: {self.help} at {', '.join(self.targets[:5])}"


def check(page: Page | Frame, script: Path,
          blocking: tuple[str, ...] = BLOCKING) -> list[Violation]:
    """Run axe on the page (or one frame of it: the embedded admin) as it is now; the
    violations of the given impacts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(script))
    results: dict[str, Any] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})")
    return [Violation(v["id"], v.get("impact") or "", v.get("help", ""),
                      [", ".join(node.get("target", [])) for node in v.get("nodes", [])])
            for v in results["violations"] if v.get("impact") in blocking]


@pytest.fixture(scope="session")
def axe_script() -> Path:
    return axe_path()


@pytest.fixture
def axe_context(browser: Browser) -> Iterator[BrowserContext]:
    """A desktop-sized context that lets the axe script in despite the pages' CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    yield context
    context.close()
