"""App Bridge session tokens (ID tokens): what Shopify's admin gives an embedded app on every
request, verified here before anything of the shop is shown.

An HS256 JWT signed with the app's client secret (the previous secret during a rotation is
accepted too): `iss` `https://<shop>/admin`, `dest` `https://<shop>`, `aud` the client id, `sub`
the staff user, `exp` about 60 s after `iat`, `nbf`, `jti`, `sid`. PyJWT checks the signature
(HMAC compared in constant time) and the audience; time is checked here against DropTrack's
clock with a small leeway, and every claim DropTrack relies on must be present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt

LEEWAY = timedelta(seconds=5)
REQUIRED_CLAIMS = ("iss", "dest", "aud", "sub", "exp", "nbf", "iat")


class SessionTokenError(ValueError):
    """The token is missing, forged, expired, for another app, or malformed."""


@dataclass(frozen=True)
class SessionToken:
    raw: str
    shop: str  # name.myshopify.com, from `dest`
    user_id: str
    session_id: str
    claims: dict[str, Any]


def verify_session_token(raw: str, client_id: str, secrets: Sequence[str], now: datetime,
                         leeway: timedelta = LEEWAY) -> SessionToken:
    if not raw:
        raise SessionTokenError("missing session token")
    if not client_id or not any(secrets):
        raise SessionTokenError("the Shopify app is not configured")
    claims: dict[str, Any] | None = None
    for secret in (s for s in secrets if s):
        try:
            claims = jwt.decode(raw, secret, algorithms=["HS256"], audience=client_id,
                                options={"verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False, "require": list(REQUIRED_CLAIMS)})
            break
        except jwt.InvalidAudienceError:
            raise SessionTokenError("session token for another app") from None
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise SessionTokenError(f"malformed session token ({type(exc).__name__})") from None
    if claims is None:
        raise SessionTokenError("session token signature does not verify")
    moment = now.timestamp()
    slack = leeway.total_seconds()
    try:
        expires, not_before = float(claims["exp"]), float(claims["nbf"])
    except (TypeError, ValueError):
        raise SessionTokenError("malformed session token times") from None
    if moment >= expires + slack:
        raise SessionTokenError("session token expired")
    if moment < not_before - slack:
        raise SessionTokenError("session token not valid yet")
    shop = (urlsplit(str(claims["dest"])).hostname or "").lower()
    issuer = urlsplit(str(claims["iss"]))
    if not shop.endswith(".myshopify.com") or (issuer.hostname or "").lower() != shop \
            or issuer.path.rstrip("/") != "/admin":
        raise SessionTokenError("session token names no Shopify shop")
    return SessionToken(raw=raw, shop=shop, user_id=str(claims["sub"]),
                        session_id=str(claims.get("sid") or ""), claims=claims)
