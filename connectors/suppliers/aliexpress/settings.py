"""What DropTrack keeps about one owner's AliExpress account (an Open Platform app + the
owner's authorization of it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://api-sg.aliexpress.com"
AUTHORIZE_PATH = "/oauth/authorize"
BUSINESS_PATH = "/sync"
TOKEN_CREATE = "/auth/token/create"  # noqa: S105 (a path, not a secret)
TOKEN_REFRESH = "/auth/token/refresh"  # noqa: S105 (a path)
# FACTS §4: "the overall API QPS for this connection is 500"; DropTrack asks far less of it.
REQUESTS_PER_SECOND = 5.0
BAN_SECONDS = 1.0  # "this ban will last 1 seconds"


@dataclass(frozen=True)
class AliExpressSettings:
    app_key: str
    app_secret: str
    access_token: str = ""  # empty until the owner authorized the app
    base_url: str = DEFAULT_BASE_URL
    language: str = "en_US"
    currency: str = "USD"
    auto_pay: bool = False  # the owner allowed paying from the AliExpress account at once
    requests_per_second: float = REQUESTS_PER_SECOND
    timeout_seconds: float = 20.0
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.app_key or not self.app_secret:
            raise ValueError("AliExpress needs the app key and the app secret")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("AliExpress base URL must start with http:// or https://")

    @property
    def limiter_key(self) -> str:
        """Shared by every worker calling with this app: a digest, never the key itself."""
        return "aliexpress:" + hashlib.sha256(self.app_key.encode()).hexdigest()[:16]

    def __repr__(self) -> str:  # never the secret or the token
        return f"AliExpressSettings(app_key={self.app_key!r}, base_url={self.base_url!r})"
