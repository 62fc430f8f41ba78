"""AfterShip Tracking API (dated versions, 2026-07 by default), for owners who already pay
for it.

The same shape as every tracking service: `settings`, `client` (the only HTTP code: the
`as-api-key` header, the `{meta, data}` envelope, per-endpoint rate limits through the shared
request limiter), `mapper` (pure build_/parse_ functions; webhooks verified by
`aftership-hmac-sha256`), `units` (tags and subtags, courier slugs, meta codes -> DropTrack's),
`connector` (the `connectors.tracking.base.TrackingService`).
"""

NAME = "aftership"
