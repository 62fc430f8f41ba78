"""Webhook signature checks on raw bytes, constant-time, against one or more secrets."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable


def hmac_sha256_base64(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def verify_base64_hmac(body: bytes, signature: str, secrets: Iterable[bytes]) -> bool:
    """True when `signature` is base64(HMAC-SHA256(body, secret)) for any of `secrets`.

    Shopify (X-Shopify-Hmac-Sha256) and WooCommerce (X-WC-Webhook-Signature) both sign this way.
    Every secret is tried, so the time taken does not reveal which one matched.
    """
    try:
        expected = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    matched = False
    for secret in secrets:
        digest = hmac.new(secret, body, hashlib.sha256).digest()
        matched |= hmac.compare_digest(digest, expected)
    return matched


def verify_prefixed_hex_hmac(body: bytes, signature: str, secrets: Iterable[bytes],
                             prefix: str = "sha256=") -> bool:
    """True when `signature` is `sha256=<hex HMAC-SHA256(body, secret)>` for any secret
    (DropTrack's supplier protocol). Constant-time, every secret tried."""
    value = signature.strip()
    if not value.startswith(prefix):
        return False
    try:
        expected = bytes.fromhex(value.removeprefix(prefix))
    except ValueError:
        return False
    matched = False
    for secret in secrets:
        digest = hmac.new(secret, body, hashlib.sha256).digest()
        matched |= hmac.compare_digest(digest, expected)
    return matched
