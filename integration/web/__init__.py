"""DropTrack's own HTTP pages and endpoints (webhook intake lives in `webhooks/`)."""
