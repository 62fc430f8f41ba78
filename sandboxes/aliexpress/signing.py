"""AliExpress's request signature, as the sandbox checks it (FACTS §2): UPPER(HEX(HMAC-SHA256(
app secret, path + sorted name/value pairs without `sign`))). The sandbox's own copy: it may
not import the connector it stands in front of."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def expected_signature(params: Mapping[str, str], secret: str, api_path: str = "") -> str:
    message = api_path + "".join(f"{name}{params[name]}" for name in sorted(params)
                                 if name != "sign")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def signature_matches(params: Mapping[str, str], secret: str, api_path: str = "") -> bool:
    return hmac.compare_digest(params.get("sign", "").upper(),
                               expected_signature(params, secret, api_path))
