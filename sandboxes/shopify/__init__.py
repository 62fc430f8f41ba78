"""A protocol-faithful local Shopify for DropTrack's connector and tests.

`build(clock, public_url=...)` returns the Flask app; its `extensions["sandbox"]` is the
`ShopifySandbox` (state, seed helpers, rate-limit buckets, webhook dispatcher).
"""

from sandboxes.shopify.app import build
from sandboxes.shopify.sandbox import ShopifySandbox

__all__ = ["ShopifySandbox", "build"]
