"""WooCommerce REST authentication, as `WC_REST_Authentication` does it.

Over HTTPS: query-string `consumer_key`/`consumer_secret` first, then HTTP basic auth; an unknown
key is not an error here (the route's permission check answers 401 later), a wrong secret is.
If that yields no user (and always over plain HTTP): OAuth 1.0a one-legged, parameters from the
query string, a form body or an `Authorization: OAuth` header, signature over WooCommerce's own
normalisation (keys and values RFC 3986-encoded, `key=value` encoded again, joined by `%26`),
HMAC-SHA1 or HMAC-SHA256 keyed with `secret&`, timestamp within 15 minutes, nonce unused.
Base URI = the site's home URL + the request path, in the scheme of the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from flask import Request

from sandboxes.woocommerce.state import OAUTH_WINDOW, ApiKey, WooCommerceStore

OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                "oauth_signature_method")
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')

PhpParams = dict[str, str]


@dataclass(frozen=True)
class AuthFailure:
    code: str
    message: str
    status: int = 401


@dataclass(frozen=True)
class AuthResult:
    """`key` set: authenticated. `failure` set: WooCommerce answers with it. Neither: anonymous."""

    key: ApiKey | None = None
    failure: AuthFailure | None = None


def php_query_params(query_string: str) -> PhpParams:
    """`$_GET` the way PHP builds it, flattened: last value wins, `a[]` becomes `a[0]`, `a[1]`,
    and `.`/space in the base name become `_`."""
    params: PhpParams = {}
    list_counters: dict[str, int] = {}
    for raw_key, value in parse_qsl(query_string, keep_blank_values=True):
        base, bracket, rest = raw_key.partition("[")
        base = base.replace(".", "_").replace(" ", "_")
        if bracket and rest.startswith("]"):
            index = list_counters.get(base, 0)
            list_counters[base] = index + 1
            key = f"{base}[{index}]{rest[1:]}"
        else:
            key = base + bracket + rest
        params.pop(key, None)
        params[key] = value
    return params


def rfc3986(value: str) -> str:
    """PHP `rawurlencode` (what `wc_rest_urlencode_rfc3986` applies)."""
    return quote(value, safe="-_.~")


def _sorted_like_php(params: PhpParams) -> list[tuple[str, str]]:
    """PHP sorts the top-level keys (strcmp); nested `a[x]` entries keep their order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, value in params.items():
        groups.setdefault(key.split("[", 1)[0], []).append((key, value))
    ordered: list[tuple[str, str]] = []
    for base in sorted(groups, key=lambda name: name.encode()):
        ordered.extend(groups[base])
    return ordered


def signature_base_string(method: str, base_uri: str, params: PhpParams) -> str:
    pieces = []
    for key, value in _sorted_like_php(params):
        base, _, nested = key.partition("[")
        encoded_key = rfc3986(base)
        for part in re.findall(r"\[([^\]]*)\]", "[" + nested) if nested else []:
            encoded_key += "%5B" + part + "%5D"
        pieces.append(rfc3986(f"{encoded_key}={rfc3986(value)}"))
    return f"{method}&{rfc3986(base_uri)}&" + "%26".join(pieces)


def oauth_signature(secret: str, method: str, base_uri: str, params: PhpParams,
                    algorithm: str) -> str:
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    text = signature_base_string(method, base_uri, params)
    mac = hmac.new(f"{secret}&".encode(), text.encode(), digest).digest()
    return base64.b64encode(mac).decode("ascii")


def _header_oauth_params(header: str) -> PhpParams:
    header = header.strip()
    if not header.startswith("OAuth "):
        return {}
    found: PhpParams = {}
    for match in _HEADER_PARAM.finditer(header):
        raw = match.group(3) if match.group(3) else match.group(4)
        found[match.group(1)] = unquote(raw.replace("+", " "))
    return found


class Authenticator:
    def __init__(self, store: WooCommerceStore) -> None:
        self.store = store

    def authenticate(self, request: Request) -> AuthResult:
        query = php_query_params(_raw_query(request))
        if request.scheme == "https":
            result = self._basic(request, query)
            if result.key is not None:
                return result
            oauth = self._oauth(request, query)
            return oauth if oauth.key is not None or oauth.failure is not None else result
        return self._oauth(request, query)

    def _basic(self, request: Request, query: PhpParams) -> AuthResult:
        consumer_key = consumer_secret = ""
        if query.get("consumer_key") and query.get("consumer_secret"):
            consumer_key, consumer_secret = query["consumer_key"], query["consumer_secret"]
        elif request.authorization is not None and request.authorization.type == "basic":
            consumer_key = request.authorization.username or ""
            consumer_secret = request.authorization.password or ""
        if not consumer_key or not consumer_secret:
            return AuthResult()
        key = self.store.find_key(consumer_key)
        if key is None:
            return AuthResult()
        if not hmac.compare_digest(key.consumer_secret, consumer_secret):
            return AuthResult(failure=AuthFailure("woocommerce_rest_authentication_error",
                                                  "Consumer secret is invalid."))
        return AuthResult(key=key)

    def _oauth(self, request: Request, query: PhpParams) -> AuthResult:
        params = dict(query)
        if request.mimetype == "application/x-www-form-urlencoded":
            params.update(php_query_params(request.get_data(as_text=True)))
        params.update(_header_oauth_params(request.headers.get("Authorization", "")))
        missing = [name for name in OAUTH_PARAMS if not params.get(name)]
        if len(missing) == len(OAUTH_PARAMS):
            return AuthResult()
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            return AuthResult(failure=AuthFailure(
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth {noun} {', '.join(missing)}"))
        key = self.store.find_key(params["oauth_consumer_key"])
        if key is None:
            return _auth_error("Consumer key is invalid.")
        failure = self._check_signature(request, key, params)
        if failure is None:
            failure = self._check_timestamp_and_nonce(key, params["oauth_timestamp"],
                                                      params["oauth_nonce"])
        return AuthResult(failure=failure) if failure else AuthResult(key=key)

    def _check_signature(self, request: Request, key: ApiKey,
                         params: PhpParams) -> AuthFailure | None:
        provided = unquote(params.pop("oauth_signature").replace(" ", "+"))
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return AuthFailure("woocommerce_rest_authentication_error",
                               "Invalid signature - signature method is invalid.")
        site = urlsplit(self.store.site_url)
        base_uri = f"{request.scheme}://{site.netloc}{site.path}{_raw_path(request)}"
        expected = oauth_signature(key.consumer_secret, request.method.upper(), base_uri, params,
                                   method)
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            return AuthFailure("woocommerce_rest_authentication_error",
                               "Invalid signature - provided signature does not match.")
        return None

    def _check_timestamp_and_nonce(self, key: ApiKey, timestamp: str,
                                   nonce: str) -> AuthFailure | None:
        now = int(self.store.now().timestamp())
        window = int(OAUTH_WINDOW.total_seconds())
        if not timestamp.isdigit() or not now - window <= int(timestamp) <= now + window:
            return AuthFailure("woocommerce_rest_authentication_error", "Invalid timestamp.")
        with self.store.lock:
            if nonce in key.nonces.values():
                return AuthFailure("woocommerce_rest_authentication_error",
                                   "Invalid nonce - nonce has already been used.")
            key.nonces[int(timestamp)] = nonce
            for stamp in [s for s in key.nonces if s < now - window]:
                del key.nonces[stamp]
        return None


def _auth_error(message: str) -> AuthResult:
    return AuthResult(failure=AuthFailure("woocommerce_rest_authentication_error", message))


def _raw_uri(request: Request) -> str:
    return str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")


def _raw_query(request: Request) -> str:
    raw = _raw_uri(request)
    if raw:
        return urlsplit(raw).query
    return request.query_string.decode("latin-1")


def _raw_path(request: Request) -> str:
    raw = _raw_uri(request)
    return urlsplit(raw).path if raw else request.path
