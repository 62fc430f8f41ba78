"""17TRACK Tracking API v2.2 (the default tracking service).

`settings` (what DropTrack keeps about the account), `client` (the only HTTP code: the
`17token` header, the `{code, data: {accepted, rejected}}` envelope, 3 requests/s through the
shared request limiter), `mapper` (pure build_/parse_ functions, problems as data), `units`
(17TRACK's statuses and sub-statuses, carrier keys, error codes -> DropTrack's), `connector`
(the `connectors.tracking.base.TrackingService` they make together).
"""

NAME = "17track"
