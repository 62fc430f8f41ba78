"""One WooCommerce scenario suite, two stores: the sandbox and the real store (realstore kit).

`woo_backend` is parametrized over both; a scenario talks to the store only through the
`WooBackend` methods (REST as the store's admin, plus the few things only the store's own
admin screens or database can do), so the two cannot drift apart: a scenario that passes on
the sandbox and fails on the real store shows where the sandbox is wrong.

DropTrack reaches both over https with basic auth, trusting the store's test CA.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import requests

from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_KIT = REPO.parent / "shared" / "realstore"
SKUS = ("TENT-2P", "LAMP-1", "MUG-1")
ADDRESS = {"first_name": "Jane", "last_name": "Doe", "address_1": "1 Main Street",
           "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
           "email": "jane@example.test", "phone": "555-0100"}


class StoreError(AssertionError):
    """The store answered a test's own REST call with an error."""


class WooBackend(Protocol):
    name: str
    url: str  # https
    ca_file: str
    key: tuple[str, str]  # read_write, the admin's
    readonly_key: tuple[str, str]
    products: dict[str, int]  # sku -> product id

    def rest(self, method: str, route: str, body: Any = None,
             params: dict[str, Any] | None = None, namespace: str = "wc/v3") -> Any: ...

    def set_partial_shipped(self, on: bool) -> None: ...

    def mark_webhook_failed(self, webhook_id: int, failures: int) -> None:
        """What WooCommerce's database holds after `failures` failed deliveries and the
        webhook set to disabled (too slow to cause for real: 7 deliveries)."""

    def failure_count(self, webhook_id: int) -> int: ...

    def run_deliveries(self) -> None:
        """Let the store send the webhook deliveries it has queued."""

    def index_queries(self) -> list[dict[str, str]]:
        """The query of every `GET /wp-json/` so far (the full index is about 1.4 MB)."""

    def clear_webhooks(self) -> None: ...

    def share_modified_second(self, order_ids: list[int]) -> None:
        """Give the orders one `date_modified` second, as a bulk edit or import saving many
        orders at once does (the sandbox's frozen clock does it anyway)."""

    def next_second(self) -> None:
        """Return once the store's clock is in a later second than now (its dates have
        one-second resolution, and DropTrack ignores a change not newer than the last)."""

    def approve_key_request(self, browser: requests.Session, authorize_url: str,
                            trust: str) -> requests.Response:
        """What the store's admin does in a browser with DropTrack's key request: sign in to
        the store if it asks, approve; the answer the browser ends on (DropTrack's return
        page, after the store posted the keys to the callback). `trust`: a CA bundle for
        both the store and DropTrack."""


_APPROVE = re.compile(r'<a href="([^"]+)" class="button button-primary wc-auth-approve"'
                      r'|<a href="([^"]+)" class="button wc-auth-approve"')


def approve(browser: requests.Session, consent: requests.Response,
            trust: str) -> requests.Response:
    """Follow the consent page's Approve link."""
    found = _APPROVE.search(consent.text)
    if found is None:
        raise StoreError(f"no Approve link on {consent.url}: {consent.status_code} "
                         f"{consent.text[:300]}")
    return browser.get(html.unescape(found.group(1) or found.group(2)), verify=trust,
                       timeout=120)


def wait_for(backend: WooBackend, condition: Callable[[], T | None], what: str,
             timeout: float = 90.0) -> T:
    """Poll `condition` (letting the store deliver its webhooks in between) until it returns
    something truthy, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        backend.run_deliveries()
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{backend.name}: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.5)  # polling interval, not synchronisation


def _checked(response: requests.Response) -> Any:
    if response.status_code >= 400:
        raise StoreError(f"{response.request.method} {response.url}: {response.status_code} "
                         f"{response.text[:300]}")
    return response.json()


@dataclass
class RestBackend:
    """What both stores share: REST as the admin over https."""

    name: str
    url: str
    ca_file: str
    key: tuple[str, str]
    readonly_key: tuple[str, str]
    products: dict[str, int] = field(default_factory=dict)

    def rest(self, method: str, route: str, body: Any = None,
             params: dict[str, Any] | None = None, namespace: str = "wc/v3") -> Any:
        return _checked(requests.request(
            method, f"{self.url}/wp-json/{namespace}/{route.lstrip('/')}", json=body,
            params=params, auth=self.key, verify=self.ca_file, timeout=120))

    def clear_webhooks(self) -> None:
        for hook in self.rest("GET", "webhooks", params={"per_page": 100, "status": "all"}):
            self.rest("DELETE", f"webhooks/{hook['id']}", params={"force": "true"})


# -- the sandbox -------------------------------------------------------------------------------

@dataclass
class SandboxBackend(RestBackend):
    sandbox: WooCommerceSandbox | None = None

    @property
    def box(self) -> WooCommerceSandbox:
        assert self.sandbox is not None
        return self.sandbox

    def set_partial_shipped(self, on: bool) -> None:
        self.box.store.set_ast_partial_shipped(on)

    def mark_webhook_failed(self, webhook_id: int, failures: int) -> None:
        with self.box.store.lock:
            hook = self.box.store.webhooks[webhook_id]
            hook.status, hook.failure_count = "disabled", failures

    def failure_count(self, webhook_id: int) -> int:
        return self.box.store.webhooks[webhook_id].failure_count

    def run_deliveries(self) -> None:
        self.box.deliver_pending()

    def index_queries(self) -> list[dict[str, str]]:
        return list(self.box.store.index_queries)

    def next_second(self) -> None:
        self.box.clock.advance(timedelta(seconds=1))

    def approve_key_request(self, browser: requests.Session, authorize_url: str,
                            trust: str) -> requests.Response:
        """The sandbox's merchant is always signed in."""
        return approve(browser, browser.get(authorize_url, verify=trust, timeout=60), trust)

    def share_modified_second(self, order_ids: list[int]) -> None:
        with self.box.store.lock:
            moment = max(self.box.store.orders[i].date_modified for i in order_ids)
            for order_id in order_ids:
                self.box.store.orders[order_id].date_modified = moment


def sandbox_backend(sandbox: WooCommerceSandbox) -> SandboxBackend:
    """The sandbox seeded as the kit seeds the real store: AST, its products, two keys."""
    assert sandbox.ca_path is not None
    sandbox.store.set_tracking_mode("ast")
    key = sandbox.store.create_key("read_write")
    readonly = sandbox.store.create_key("read")
    products = {sku: sandbox.store.add_product(name, sku=sku, price=price).id
                for sku, name, price in (("TENT-2P", "Trail Tent 2P", 129.0),
                                         ("LAMP-1", "Camp Lamp", 24.0),
                                         ("MUG-1", "Camp Mug", 9.5))}
    return SandboxBackend(name="sandbox", url=sandbox.url, ca_file=sandbox.ca_path,
                          key=(key.consumer_key, key.consumer_secret),
                          readonly_key=(readonly.consumer_key, readonly.consumer_secret),
                          products=products, sandbox=sandbox)


# -- the real store ----------------------------------------------------------------------------

@dataclass
class RealStoreBackend(RestBackend):
    kit: Path = DEFAULT_KIT
    state_dir: str = ""
    db_name: str = ""
    admin: tuple[str, str] = ("", "")
    home_url: str = ""  # WordPress's home (http); the https listener is on another port

    def approve_key_request(self, browser: requests.Session, authorize_url: str,
                            trust: str) -> requests.Response:
        """Not signed in, WooCommerce's authorize page sends the admin to its own login form
        (wc-auth/v1/login, posting back to itself), then on to the consent page.

        The flow starts on the home URL: WordPress builds its redirects from the home URL
        with the request's scheme, which on the kit's separate https port names https on the
        http port. (A real store serves both on one host name and port.)"""
        if authorize_url.startswith(self.url + "/"):
            authorize_url = self.home_url + authorize_url[len(self.url):]
        page = browser.get(authorize_url, verify=trust, timeout=120)
        if 'class="wc-auth-login"' in page.text:
            fields = dict(re.findall(r'<input type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                     page.text))
            page = browser.post(page.url, data={
                **{name: html.unescape(value) for name, value in fields.items()},
                "username": self.admin[0], "password": self.admin[1], "login": "Login"},
                verify=trust, timeout=120)
        return approve(browser, page, trust)

    def _php(self, script: str, *args: str) -> Any:
        run = subprocess.run(["php", str(self.kit / "php" / script), "--dir", self.state_dir,
                              *args], capture_output=True, text=True, timeout=300, check=False)
        if run.returncode != 0:
            raise StoreError(f"{script} {' '.join(args)}: {run.stderr.strip()[-500:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])

    def _sql(self, statement: str) -> str:
        run = subprocess.run(["mysql", "-N", "-B", self.db_name, "-e", statement],
                             capture_output=True, text=True, timeout=60, check=False)
        if run.returncode != 0:
            raise StoreError(f"mysql: {run.stderr.strip()}")
        return run.stdout.strip()

    def set_partial_shipped(self, on: bool) -> None:
        self._php("ast-partial-shipped.php", "on" if on else "off")

    def share_modified_second(self, order_ids: list[int]) -> None:
        ids = ",".join(str(int(i)) for i in order_ids)  # integers only
        self._sql("UPDATE wp_wc_orders o JOIN (SELECT MAX(date_updated_gmt) AS t FROM "  # noqa: S608
                  f"wp_wc_orders WHERE id IN ({ids})) m SET o.date_updated_gmt = m.t "
                  f"WHERE o.id IN ({ids})")

    def next_second(self) -> None:
        start = int(time.time())
        deadline = time.monotonic() + 5
        while int(time.time()) <= start:  # a condition on the clock, polled
            if time.monotonic() > deadline:
                raise AssertionError("the clock did not move")
            time.sleep(0.05)

    def mark_webhook_failed(self, webhook_id: int, failures: int) -> None:
        # Integers only (int() above), and the cached id lists WooCommerce keeps as transients.
        self._sql(f"UPDATE wp_wc_webhooks SET status='disabled', "  # noqa: S608
                  f"failure_count={int(failures)} WHERE webhook_id={int(webhook_id)}; "
                  "DELETE FROM wp_options WHERE option_name LIKE "
                  "'%transient%woocommerce_webhook_ids%'")

    def failure_count(self, webhook_id: int) -> int:
        return int(self._sql("SELECT failure_count FROM wp_wc_webhooks WHERE "  # noqa: S608
                             f"webhook_id={int(webhook_id)}") or 0)

    def run_deliveries(self) -> None:
        self._php("as-run.php", "woocommerce-webhooks")

    def index_queries(self) -> list[dict[str, str]]:
        """From the kit's REST log (it leaves the index's body out)."""
        found = []
        log = Path(self.state_dir) / "logs" / "rest.log"
        with log.open(encoding="utf-8") as lines:
            for line in lines:
                if '"route":"/"' in line:
                    query = json.loads(line).get("query")
                    found.append(dict(query) if isinstance(query, dict) else {})
        return found


def kit_location() -> Path:
    return Path(os.environ.get("REALSTORE_KIT") or DEFAULT_KIT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unavailable(reason: str) -> None:
    """In CI a missing real store is a failure; on a developer's machine, a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"real WooCommerce store unavailable: {reason}")
    pytest.skip(f"real WooCommerce store unavailable: {reason}")


@pytest.fixture(scope="session")
def realstore() -> Iterator[RealStoreBackend]:
    """The realstore kit's store, started once per session on free ports in a temp folder
    (world-searchable, as the kit's PHP needs) and removed afterwards."""
    kit = kit_location()
    if not (kit / "start").is_file():
        _unavailable(f"no realstore kit at {kit} (set REALSTORE_KIT)")
    if os.geteuid() != 0:
        _unavailable("the realstore kit must run as root (it installs Debian packages)")
    state = tempfile.mkdtemp(prefix="droptrack-realstore-")
    os.chmod(state, 0o755)  # noqa: S103 - www-data must reach it (the kit's README)
    run = subprocess.run([str(kit / "start"), "--port", str(_free_port()), "--https-port",
                          str(_free_port()), "--dir", state], capture_output=True, text=True,
                         timeout=1200, check=False)
    if run.returncode != 0:
        shutil.rmtree(state, ignore_errors=True)
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        _unavailable(f"start failed: {last}")
    info = json.loads(run.stdout)
    backend = RealStoreBackend(
        name="realstore", url=info["https_url"], ca_file=info["ca_file"],
        key=(info["consumer_key"], info["consumer_secret"]),
        readonly_key=(info["readonly_consumer_key"], info["readonly_consumer_secret"]),
        products=dict(info["products"]), kit=kit, state_dir=state, db_name=info["db_name"],
        admin=(info["admin_user"], info["admin_password"]), home_url=info["url"])
    try:
        yield backend
    finally:
        subprocess.run([str(kit / "stop"), "--dir", state], capture_output=True, timeout=300,
                       check=False)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(params=["sandbox", pytest.param("realstore", marks=pytest.mark.realstore)])
def woo_backend(request: pytest.FixtureRequest) -> Iterator[WooBackend]:
    """The same scenario against the sandbox and against the real store."""
    backend: WooBackend
    if request.param == "sandbox":
        backend = sandbox_backend(request.getfixturevalue("wc_sandbox_https"))
    else:
        backend = request.getfixturevalue("realstore")
        backend.set_partial_shipped(False)  # as on a fresh install
    try:
        yield backend
    finally:
        backend.clear_webhooks()
