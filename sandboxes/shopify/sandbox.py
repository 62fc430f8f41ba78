"""The object tests hold (`app.extensions["sandbox"]`): state, rate-limit buckets, webhooks."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from core.clock import Clock
from sandboxes.shopify.cost import LeakyBucket
from sandboxes.shopify.state import PLAN_RESTORE_RATE, SandboxState, UsageCounter
from sandboxes.shopify.webhooks import WebhookDispatcher

DEFAULT_API_VERSION = "2026-07"
SUPPORTED_API_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07")


class ShopifySandbox:
    def __init__(self, clock: Clock, *, public_url: str,
                 api_versions: Iterable[str] = SUPPORTED_API_VERSIONS,
                 default_api_version: str = DEFAULT_API_VERSION) -> None:
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.api_versions = tuple(api_versions)
        self.default_api_version = default_api_version
        self.state = SandboxState(clock, public_url=self.public_url)
        self.webhooks = WebhookDispatcher(self.state, default_api_version)
        self._buckets: dict[tuple[str, str], LeakyBucket] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget every shop, app, order, token, bucket and queued delivery."""
        self.state.reset()
        self.webhooks.reset()
        with self._lock:
            self._buckets.clear()

    def bucket(self, shop: str, client_id: str) -> LeakyBucket:
        """The leaky bucket of one app on one shop (created full, sized by the shop's plan)."""
        with self._lock:
            key = (shop, client_id)
            if key not in self._buckets:
                plan = self.state.shops[shop].plan
                self._buckets[key] = LeakyBucket(self.clock, PLAN_RESTORE_RATE[plan])
            return self._buckets[key]

    def usage(self, shop: str, client_id: str) -> UsageCounter:
        """API calls, cost points spent and throttled calls of one app on one shop."""
        return self.state.usage[(shop, client_id)]

    def usage_of_token(self, access_token: str) -> UsageCounter:
        return self.state.usage_by_token[access_token]
