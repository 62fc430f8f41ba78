"""DropTrack installed the way a stranger installs it: a wheel, or `pip install .` of the source,
into a fresh virtualenv with no extras, run from a folder that is not the checkout.

Proves the package carries what it needs outside an editable checkout (templates, static files,
migrations, the sandboxes' schema), that the embedded-mode commands need neither Redis nor
Dramatiq, and that the admin login and the customer's /track page are served from the install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.helpers.served import start_droptrack_serve

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900  # resolving and installing the dependencies (from pip's cache when warm)


def _source_copy(target: Path) -> Path:
    """The tracked files of the checkout, so a build leaves nothing in the checkout itself."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _install(what: Path, tmp_path: Path) -> Path:
    """A fresh virtualenv with `what` (a wheel or a source folder) installed, no extras;
    returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(what)], check=True,
                   timeout=INSTALL_TIMEOUT, env=_clean_env(tmp_path))
    return bin_dir


def _clean_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DROPTRACK_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(home)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR",
                                          str(Path.home() / ".cache" / "pip"))
    return env


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _source_copy(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
                    str(source)], check=True, timeout=INSTALL_TIMEOUT,
                   env=_clean_env(out))
    [built] = out.glob("droptrack-*.whl")
    return built


@contextmanager
def _serve(bin_dir: Path, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    droptrack = str(bin_dir / "droptrack")
    subprocess.run([droptrack, "init"], cwd=workdir, env=env, check=True, timeout=120)
    subprocess.run([droptrack, "db", "upgrade"], cwd=workdir, env=env, check=True, timeout=120)
    served = start_droptrack_serve([droptrack], cwd=workdir, env=env, stderr=subprocess.PIPE)
    try:
        yield served.url
    finally:
        served.stop(timeout=30)


def _check_install(bin_dir: Path, workdir: Path) -> None:
    workdir.mkdir()
    env = _clean_env(workdir)
    python = str(bin_dir / "python")
    # Installed without extras: the optional libraries really are absent...
    for optional in ("redis", "dramatiq", "psycopg"):
        probe = subprocess.run([python, "-c", f"import {optional}"], cwd=workdir, env=env,
                               capture_output=True)
        assert probe.returncode != 0, f"{optional} should not be installed without extras"
    # ...the code comes from the install, not from a checkout...
    where = subprocess.run([python, "-c", "import integration, templates; "
                            "print(integration.__file__); print(templates.TEMPLATES_DIR)"],
                           cwd=workdir, env=env, check=True, capture_output=True, text=True)
    assert all("site-packages" in line for line in where.stdout.splitlines()), where.stdout
    # ...the sandbox and demo commands are registered, and the pages are served.
    listed = subprocess.run([str(bin_dir / "droptrack"), "--help"], cwd=workdir, env=env,
                            check=True, capture_output=True, text=True).stdout
    assert " sandbox " in listed and " demo " in listed
    with _serve(bin_dir, workdir, env) as base:
        track = requests.get(f"{base}/track", timeout=10)
        assert track.status_code == 200
        assert "<form" in track.text and 'name="email"' in track.text
        login = requests.get(f"{base}/admin/login", timeout=10)
        assert login.status_code == 200
        assert 'type="password"' in login.text
        css = requests.get(f"{base}/static/droptrack.css", timeout=10)
        assert css.status_code == 200 and css.text.strip()


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_a_wheel_installs_and_serves_track_and_admin_login(
        wheel: Path, tmp_path: Path) -> None:
    bin_dir = _install(wheel, tmp_path)
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], check=True,
                           capture_output=True, text=True).stdout
    for packaged in ("templates/admin/login.html", "templates/emails/owner_alert.txt",
                     "integration/web/static/droptrack.css", "sandboxes/shopify/",
                     "integration/storage/migrations/versions/0001_initial_schema.py"):
        assert packaged in names, f"{packaged} is missing from the wheel"
    _check_install(bin_dir, tmp_path / "site")


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_pip_install_of_the_source_serves_track_and_admin_login(
        source: Path, tmp_path: Path) -> None:
    bin_dir = _install(source, tmp_path)
    _check_install(bin_dir, tmp_path / "site")
