"""Webhook intake: verify on raw bytes, persist to the inbox, then acknowledge."""
