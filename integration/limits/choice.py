"""Which rate limits a process uses: its own, or the ones shared through Redis.

`[workers] rate_limits`: "auto" = Redis in `droptrack worker` processes, in-process elsewhere
(`droptrack serve`, tests); "redis" = always (set it for the scheduler's and web hosts of a
scaled-out install); "process" = never. Redis's client library is imported only when a process
shares its limits, so the embedded default runs without the `workers` extra.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from connectors.request_limits import InProcessRequestLimiter, RequestLimiter
from connectors.shopify import connector as shopify_connector
from connectors.shopify.ratelimit import CostLimiter
from connectors.woocommerce import connector as woocommerce_connector
from integration.base.config import Settings

if TYPE_CHECKING:
    from integration.limits.redis_limits import RedisCostLimiter, RedisRequestLimiter

_PROCESS_REQUEST_LIMITER = InProcessRequestLimiter()
_shared: dict[str, tuple[RedisCostLimiter, RedisRequestLimiter]] = {}
_shared_lock = threading.Lock()


def shared_limits(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process shares its limits with other processes through Redis."""
    mode = settings.workers.rate_limits
    if mode != "auto":
        return mode == "redis"
    return (os.environ if environ is None else environ).get("DROPTRACK_WORKER_PROCESS") == "1"


def _redis_limiters(url: str) -> tuple[RedisCostLimiter, RedisRequestLimiter]:
    from integration.limits.redis_limits import RedisCostLimiter, RedisRequestLimiter, connect

    with _shared_lock:
        if url not in _shared:
            client = connect(url)
            _shared[url] = (RedisCostLimiter(client), RedisRequestLimiter(client))
        return _shared[url]


def shopify_environment(settings: Settings) -> shopify_connector.Environment:
    """What every Shopify connector of this process shares (connector.ENVIRONMENT), switched
    to the Redis-backed budget the first time when this process shares its limits."""
    environment = shopify_connector.ENVIRONMENT
    if shared_limits(settings):
        cost, _ = _redis_limiters(settings.workers.redis_url)
        if environment.limiter is not cost:
            limiter: CostLimiter = cost
            environment.limiter = limiter
    return environment


def woocommerce_environment(settings: Settings) -> woocommerce_connector.Environment:
    """What every WooCommerce connector of this process shares, switched to the Redis-backed
    request limiter the first time when this process shares its limits."""
    environment = woocommerce_connector.ENVIRONMENT
    if shared_limits(settings):
        _, requests = _redis_limiters(settings.workers.redis_url)
        if environment.limiter is not requests:
            environment.limiter = requests
    return environment


def share_store_limits(platform: str, settings: Settings) -> None:
    """Before a store connector of `platform` is built: its platform's budget, shared with
    the other workers when this process shares its limits."""
    if platform == "shopify":
        shopify_environment(settings)
    elif platform == "woocommerce":
        woocommerce_environment(settings)


def supplier_limiter(settings: Settings) -> RequestLimiter:
    if not shared_limits(settings):
        return _PROCESS_REQUEST_LIMITER
    return _redis_limiters(settings.workers.redis_url)[1]
