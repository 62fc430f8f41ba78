"""Walk the demo's main pages in Chromium at desktop width, check them, and (optionally) save
the README's screenshots from them.

One walk for two uses: tests/integration/test_demo.py runs it against a running demo and fails
on any finding; `scripts/screenshots` runs it to regenerate docs/images/ from the current pages
(so the README's images cannot go stale). Checks on every page:

* no horizontal overflow (the page, and any table inside its scroll box) at 1280 px;
* no internal keys in the visible text (`payment_issue`, `notify.owner_alert`, `owner_alert:`);
* every status pill in the owner's vocabulary (core/wording.owner_vocabulary);
* chart labels drawn at 12 px or more.

Playwright is a test and tooling dependency: imported by the caller, typed here only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.wording import owner_vocabulary

if TYPE_CHECKING:
    from playwright.sync_api import Page

WIDTH, HEIGHT = 1280, 900
# Debian's Chromium, as the tests drive it (tests/helpers/browser.py uses these too).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# snake_case words and dotted job kinds; e-mail addresses and URLs are removed first.
INTERNAL_KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b[a-z]+\.[a-z]+_[a-z_]+\b|\bowner_alert\b")
ADDRESSES = re.compile(r"\S+@\S+|https?://\S+|\b\S+\.(?:csv|eml|db|log|pem)\b")
MIN_CHART_PX = 12.0


@dataclass(frozen=True)
class Stop:
    name: str  # also the screenshot's file name: docs/images/<name>.png
    url: str
    owner: bool = True  # an owner page (status pills in the owner's vocabulary)


def owner_stops(base: str, order_path: str) -> list[Stop]:
    """The dashboard's main pages; `order_path` is one order's page (/admin/orders/<id>)."""
    return [Stop("demo-dashboard", f"{base}/admin/"),
            Stop("demo-needs-attention", f"{base}/admin/attention"),
            Stop("demo-orders", f"{base}/admin/orders"),
            Stop("demo-order", f"{base}{order_path}"),
            Stop("demo-suppliers", f"{base}/admin/suppliers")]


def customer_stops(shopify_page: str, woocommerce_page: str) -> list[Stop]:
    """The stores' own customer pages for one order each (what DropTrack wrote there)."""
    return [Stop("demo-shopify-order-status", shopify_page, owner=False),
            Stop("demo-woocommerce-view-order", woocommerce_page, owner=False)]


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(f"{base}/admin/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")


def check(page: Page, stop: Stop) -> list[str]:
    """What is wrong with the page now open, as sentences (empty: nothing)."""
    findings: list[str] = []
    overflow = page.evaluate("""() => {
        const root = document.documentElement;
        const wide = [...document.querySelectorAll('.table-wrap')]
            .filter(el => el.scrollWidth > el.clientWidth + 1).length;
        return {page: root.scrollWidth - root.clientWidth, tables: wide};
    }""")
    if overflow["page"] > 1:
        findings.append(f"{stop.name}: scrolls sideways by {overflow['page']} px at {WIDTH} px")
    if overflow["tables"]:
        findings.append(f"{stop.name}: {overflow['tables']} table(s) scroll sideways")
    text = ADDRESSES.sub(" ", page.inner_text("body"))
    keys = sorted(set(INTERNAL_KEY.findall(text)))
    if keys:
        findings.append(f"{stop.name}: internal keys in the page: {', '.join(keys)}")
    if stop.owner:
        vocabulary = owner_vocabulary()
        pills = page.locator(".pill[data-status]").all_inner_texts()
        strange = sorted({p.strip() for p in pills} - vocabulary)
        if strange:
            findings.append(f"{stop.name}: status labels outside the owner's vocabulary: "
                            f"{', '.join(strange)}")
    smallest = page.evaluate("""() => Math.min(Infinity, ...[...document.querySelectorAll(
        '.chart svg text')].map(t => parseFloat(getComputedStyle(t).fontSize)
        * t.ownerSVGElement.getScreenCTM().a))""")
    if smallest < MIN_CHART_PX:
        findings.append(f"{stop.name}: chart labels drawn at {smallest:.1f} px")
    cut = page.evaluate("""() => [...document.querySelectorAll('.chart svg text')]
        .filter(t => t.getBBox().x < 0).map(t => t.textContent)""")
    if cut:
        findings.append(f"{stop.name}: chart labels cut off: {', '.join(cut)}")
    return findings


def walk(page: Page, stops: list[Stop], images: Path | None = None) -> list[str]:
    """Open each stop, check it, screenshot it into `images` when given; all findings."""
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    findings: list[str] = []
    for stop in stops:
        response = page.goto(stop.url)
        if response is None or response.status >= 400:
            findings.append(f"{stop.name}: {stop.url} answered "
                            f"{response.status if response else 'nothing'}")
            continue
        findings += check(page, stop)
        if images is not None:
            images.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(images / f"{stop.name}.png"), full_page=True)
    return findings
