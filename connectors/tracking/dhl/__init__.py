"""DHL Shipment Tracking - Unified API (direct, for DHL parcels when the owner has a key).

The same shape as every tracking service: `settings`, `client` (the only HTTP code: the
`DHL-API-Key` header, problem+json errors, 1 call a second through the shared limiter, and the
daily budget's 429 turned into `QuotaExhausted` until 00:00 GMT), `mapper` (pure parse_
functions), `units` (statusCode and problem statuses -> DropTrack's), `connector`.
DHL is pull only: nothing to register, no push; every look is one call of the daily budget.
"""

NAME = "dhl"
