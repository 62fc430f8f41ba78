"""The only code that talks HTTP to a WooCommerce store.

The `woocommerce` package signs OAuth 1.0a the way WooCommerce checks it; `connectors.http`
adds what that package lacks (one keep-alive session, timeouts, Retry-After on 429/503, an
honest User-Agent, a CA bundle REQUESTS_CA_BUNDLE cannot override). Over https the keys go as
basic auth; over plain http every attempt is signed afresh (WooCommerce refuses a used nonce).

Failures become errors that say in plain words what the store owner should do, and whether
the outbox should retry (`TransientHttpError`) or not (`StoreRefused`, `NotFound`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from woocommerce.oauth import OAuth

from connectors.http import HttpClient, HttpError
from connectors.parsing import positive_int
from core.errors import PermanentError

WC_V3 = "wc/v3"
MAX_PER_PAGE = 100


class StoreRefused(PermanentError):
    """WooCommerce (or a firewall in front of it) refused the request: keys, permissions, WAF."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NotFound(PermanentError):
    """A 404: the route (plugin gone, REST API off) or the resource (order deleted) is missing."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

    @property
    def no_route(self) -> bool:
        return self.code == "rest_no_route"


class BadRequest(PermanentError):
    """A 4xx other than 401/403/404: WooCommerce rejected what DropTrack sent."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class OAuth1QueryAuth(AuthBase):
    """Signs each prepared request (every retry too) with WooCommerce's OAuth 1.0a query
    parameters, against the store's site URL."""

    def __init__(self, consumer_key: str, consumer_secret: str,
                 now: Callable[[], float] = time.time) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self._now = now

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        signer = OAuth(url=request.url, consumer_key=self.consumer_key,
                       consumer_secret=self.consumer_secret, version="v3",
                       method=request.method or "GET", oauth_timestamp=int(self._now()))
        request.prepare_url(signer.get_oauth_url(), None)
        return request


def wc_error(error: HttpError) -> tuple[str, str]:
    """(code, message) of a WP_Error body; empty strings when the body is not one."""
    try:
        body = json.loads(error.body)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")


def plain_words(error: HttpError, site: str, what: str) -> PermanentError:
    """Turn a 4xx into an error the store owner can act on."""
    code, message = wc_error(error)
    detail = f" (WooCommerce said: {message})" if message else ""
    if error.status == 401 and "timestamp" in message.lower():
        return StoreRefused(401, (
            f"{site} refused DropTrack's signature while {what}: the store's clock and "
            f"DropTrack's differ by more than 15 minutes. Fix the server time, or use "
            f"https:// so no signature is needed{detail}."), code)
    if error.status == 401:
        return StoreRefused(401, (
            f"{site} refused DropTrack's API keys while {what}: the keys are wrong, were "
            f"revoked, or lack read/write permission. Reconnect the store{detail}."), code)
    if error.status == 403:
        blocked = "" if code else (" A firewall or security plugin (WAF) is probably blocking "
                                   "DropTrack: allow its requests.")
        return StoreRefused(403, f"{site} answered 403 Forbidden while {what}.{blocked}{detail}",
                            code)
    if error.status in (404, 410):
        if code == "rest_no_route":
            return NotFound(f"{site} has no such REST route ({what}){detail}.", code)
        if code or error.status == 410:
            return NotFound(f"{site}: not found while {what}; it was probably deleted{detail}.",
                            code)
        return NotFound(f"{site} answered 404 while {what}: the WordPress REST API is not "
                        "reachable at this address (check the URL and that permalinks are not "
                        "'Plain').", code)
    return BadRequest(error.status, f"{site} rejected DropTrack's request while {what}: HTTP "
                      f"{error.status}{detail}.", code)


class WooCommerceClient:
    """REST calls against one store, relative to `/wp-json/`."""

    def __init__(self, site_url: str, consumer_key: str, consumer_secret: str, *,
                 verify: bool | str = True, timeout: tuple[float, float] = (5.0, 30.0),
                 retries: int = 2, max_retry_wait_seconds: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.site_url = site_url.rstrip("/")
        self.https = urlsplit(self.site_url).scheme == "https"
        auth: AuthBase = (HTTPBasicAuth(consumer_key, consumer_secret) if self.https
                          else OAuth1QueryAuth(consumer_key, consumer_secret))
        self.http = HttpClient(self.site_url + "/wp-json", timeout=timeout, retries=retries,
                               max_retry_wait_seconds=max_retry_wait_seconds, verify=verify,
                               auth=auth, sleep=sleep)

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.http.calls

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, route: str, *, what: str,
                params: Mapping[str, str | int] | None = None,
                json_body: Any = None, namespace: str = WC_V3) -> requests.Response:
        path = f"{namespace}/{route.lstrip('/')}" if namespace else route.lstrip("/")
        if params:
            # In the URL, not `params=`: the OAuth signature covers exactly what is sent.
            path += "?" + urlencode({key: str(value) for key, value in params.items()})
        try:
            return self.http.request(method, path, json=json_body)
        except HttpError as error:
            raise plain_words(error, self.site_url, what) from error

    def get(self, route: str, *, what: str, params: Mapping[str, str | int] | None = None,
            namespace: str = WC_V3) -> Any:
        return _json(self.request("GET", route, what=what, params=params, namespace=namespace),
                     self.site_url, what)

    def post(self, route: str, body: Any, *, what: str, namespace: str = WC_V3) -> Any:
        return _json(self.request("POST", route, what=what, json_body=body,
                                  namespace=namespace), self.site_url, what)

    def put(self, route: str, body: Any, *, what: str, namespace: str = WC_V3,
            params: Mapping[str, str | int] | None = None) -> Any:
        return _json(self.request("PUT", route, what=what, json_body=body, params=params,
                                  namespace=namespace), self.site_url, what)

    def delete(self, route: str, *, what: str, params: Mapping[str, str | int] | None = None,
               namespace: str = WC_V3) -> Any:
        return _json(self.request("DELETE", route, what=what, params=params,
                                  namespace=namespace), self.site_url, what)

    def index(self, fields: str = "namespaces") -> requests.Response:
        """`GET /wp-json/?_fields=...`: namespace discovery, only the fields asked for (the
        whole index describes every route: over a megabyte). A redirect is returned, not
        followed."""
        return self.request("GET", "", what="reading the REST API index", namespace="",
                            params={"_fields": fields} if fields else None)

    def page(self, route: str, params: Mapping[str, str | int], page: int, *,
             what: str) -> tuple[list[Any], int]:
        """One page of a collection and the total page count (`X-WP-TotalPages`)."""
        query = {**params, "page": page, "per_page": params.get("per_page", MAX_PER_PAGE)}
        response = self.request("GET", route, what=what, params=query)
        items = _json(response, self.site_url, what)
        if not isinstance(items, list):
            raise BadRequest(response.status_code,
                             f"{self.site_url}: expected a list while {what}")
        total = positive_int(response.headers.get("X-WP-TotalPages")) or 0
        return items, total

    def pages(self, route: str, params: Mapping[str, str | int], *,
              what: str) -> Iterator[list[Any]]:
        """Every page of a collection, following `X-WP-TotalPages`."""
        number = 1
        while True:
            items, total = self.page(route, params, number, what=what)
            yield items
            if number >= total or not items:
                return
            number += 1


def _json(response: requests.Response, site: str, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BadRequest(response.status_code, (
            f"{site} answered with something other than JSON while {what} (HTTP "
            f"{response.status_code}): a security plugin, a maintenance page or a redirect "
            "is in the way.")) from None
