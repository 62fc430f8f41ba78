"""A store's Shopify credentials as DropTrack keeps them (encrypted by the caller).

Three kinds: `oauth` (an expiring offline token plus a rotating refresh token, from the
authorization code grant or the embedded app's token exchange), `client_credentials` (the
merchant's own Dev Dashboard app: a fresh token is exchanged from its client id and secret),
`static` (a token pasted by the owner, never expires). `grant` says which of the three ways
connected the store (it picks the owner's action when the store has to be connected again).
All values are strings, as `StoreAccess.credentials` carries them.

Whatever the way, a token is renewed by one function (`connectors.shopify.client.renew`, called
by `ShopifyClient.renew_token` only): the renewal sweep, a 401 and the first client-credentials
exchange all go through it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from connectors.parsing import timestamp

OAUTH = "oauth"
CLIENT_CREDENTIALS = "client_credentials"
STATIC = "static"
REFRESH_MARGIN = timedelta(minutes=10)

# The three ways a Shopify store is connected (Credentials.grant).
GRANT_CLIENT_CREDENTIALS = "client_credentials"  # Dev Dashboard app, self-hosting owner
GRANT_TOKEN_EXCHANGE = "token_exchange"  # public embedded app, managed install  # noqa: S105
GRANT_AUTHORIZATION_CODE = "authorization_code"  # non-embedded install
GRANTS = (GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE, GRANT_AUTHORIZATION_CODE)


@dataclass(frozen=True)
class Credentials:
    access_token: str
    kind: str = STATIC
    scope: str = ""
    expires_at: str = ""  # ISO 8601, "" = never
    refresh_token: str = ""
    refresh_token_expires_at: str = ""
    client_id: str = ""  # the app the token belongs to (ours, or the merchant's custom app)
    client_secret: str = ""
    grant: str = ""  # one of GRANTS ("" for rows connected before it was recorded)

    @classmethod
    def pending(cls, grant: str, client_id: str, client_secret: str) -> Credentials:
        """What a way of connecting starts from, before Shopify's first token: the app's id
        and secret. Its first answer is applied with `renewed`, like every later one."""
        kind = CLIENT_CREDENTIALS if grant == GRANT_CLIENT_CREDENTIALS else OAUTH
        return cls(access_token="", kind=kind, client_id=client_id, client_secret=client_secret,
                   grant=grant)

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Credentials:
        known = cls.__dataclass_fields__
        values = {key: str(value) for key, value in data.items() if key in known}
        if "kind" not in values and values.get("refresh_token"):
            values["kind"] = OAUTH
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value}

    @property
    def expires(self) -> datetime | None:
        return timestamp(self.expires_at, naive_is_utc=True) if self.expires_at else None

    def needs_refresh(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        expires = self.expires
        return self.refreshable and expires is not None and expires - margin <= now

    @property
    def refreshable(self) -> bool:
        if self.kind == OAUTH:
            return bool(self.refresh_token and self.client_id and self.client_secret)
        return self.kind == CLIENT_CREDENTIALS and bool(self.client_id and self.client_secret)

    def renewed(self, access_token: str, expires_at: datetime | None, *, scope: str = "",
                refresh_token: str = "", refresh_expires_at: datetime | None = None
                ) -> Credentials:
        return replace(
            self, access_token=access_token, scope=scope or self.scope,
            expires_at=expires_at.isoformat() if expires_at else "",
            refresh_token=refresh_token or self.refresh_token,
            refresh_token_expires_at=(refresh_expires_at.isoformat() if refresh_expires_at
                                      else self.refresh_token_expires_at))
