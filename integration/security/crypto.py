"""Secrets at rest: MultiFernet encryption of store credentials and webhook secrets.

The first key encrypts; every listed key decrypts, so a new key can be put in front and the
old ones kept until `droptrack keys rotate` has re-encrypted everything under the new one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "security.encryption_keys: each key must be 32 url-safe base64-encoded bytes "
                "(make one with `droptrack keys generate`)"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with the configured encryption keys"
            ) from None

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self.encrypt(json.dumps(value, sort_keys=True))

    def decrypt_json(self, token: str) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise SecretDecryptionError("a stored credential is not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the primary (first) key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with the configured encryption keys"
            ) from None
