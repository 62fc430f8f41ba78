"""Session token verification, one row per way a token can be wrong (no database, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from connectors.shopify.session_tokens import SessionTokenError, verify_session_token

CLIENT_ID = "droptrack-app"
SECRET = "shpss_0123456789abcdef0123456789abcdef"
OLD = "shpss_previous_previous_previous_previous"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SHOP = "merchant.myshopify.com"


def token(secret: str = SECRET, algorithm: str = "HS256", **changes: Any) -> str:
    claims: dict[str, Any] = {"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}",
                              "aud": CLIENT_ID, "sub": "42", "exp": T + 60, "nbf": T, "iat": T,
                              "jti": "j", "sid": "s"}
    claims.update(changes)
    for key in [key for key, value in claims.items() if value is None]:
        del claims[key]
    return jwt.encode(claims, "" if algorithm == "none" else secret, algorithm=algorithm)


def test_a_valid_token_names_its_shop_and_user() -> None:
    verified = verify_session_token(token(), CLIENT_ID, [SECRET], NOW)
    assert (verified.shop, verified.user_id, verified.session_id) == (SHOP, "42", "s")


def test_the_previous_secret_still_verifies_during_a_rotation() -> None:
    assert verify_session_token(token(OLD), CLIENT_ID, [SECRET, OLD], NOW).shop == SHOP


def test_a_small_clock_skew_is_tolerated() -> None:
    assert verify_session_token(token(exp=T - 3), CLIENT_ID, [SECRET], NOW).shop == SHOP
    assert verify_session_token(token(nbf=T + 3), CLIENT_ID, [SECRET], NOW).shop == SHOP


@pytest.mark.parametrize(("raw", "why"), [
    ("", "missing"),
    ("not-a-jwt", "malformed"),
    (token("shpss_forged_forged_forged_forged_forged"), "signature"),
    (token(algorithm="none"), "malformed"),
    (token(aud="someone-elses-app"), "another app"),
    (token(exp=T - 10), "expired"),
    (token(nbf=T + 30), "not valid yet"),
    (token(exp=None), "malformed"),
    (token(dest=None), "malformed"),
    (token(dest="https://evil.example.com", iss="https://evil.example.com/admin"), "no Shopify"),
    (token(iss="https://other.myshopify.com/admin"), "no Shopify"),
    (token(dest="https://other.myshopify.com"), "no Shopify"),
])
def test_bad_tokens_are_refused(raw: str, why: str) -> None:
    with pytest.raises(SessionTokenError, match=why):
        verify_session_token(raw, CLIENT_ID, [SECRET], NOW)


def test_an_unconfigured_app_verifies_nothing() -> None:
    with pytest.raises(SessionTokenError, match="not configured"):
        verify_session_token(token(), CLIENT_ID, [""], NOW)
