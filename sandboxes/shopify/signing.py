"""Shopify's three signatures, computed independently of DropTrack's verifiers.

- OAuth redirects and install requests: `hmac` = hex HMAC-SHA256 over the sorted query
  parameters without `hmac` (and the legacy `signature`), `key=value` joined by `&`.
- App proxy: `signature` = hex HMAC-SHA256 over sorted `key=value` pairs (repeated keys' values
  joined by commas) concatenated with no separator.
- Webhooks: `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the raw body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode


def _hmac(secret: str, message: bytes) -> hmac.HMAC:
    return hmac.new(secret.encode(), message, hashlib.sha256)


def oauth_hmac(params: Mapping[str, str], secret: str) -> str:
    message = "&".join(f"{key}={params[key]}" for key in sorted(params)
                       if key not in ("hmac", "signature"))
    return _hmac(secret, message.encode()).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """`params` plus their `hmac`, URL-encoded (an OAuth callback or install request query)."""
    return urlencode({**params, "hmac": oauth_hmac(params, secret)})


def app_proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(grouped.items()))
    return _hmac(secret, message.encode()).hexdigest()


def webhook_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(_hmac(secret, body).digest()).decode()
