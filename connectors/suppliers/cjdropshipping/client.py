"""CJdropshipping over HTTPS: the only code here that does HTTP.

Tokens: the API key buys an access token (15 days) and a refresh token (180 days); the access
token is refreshed a day before it expires, a new pair is bought with the key only when the
refresh token is gone. getAccessToken goes at most once per 5 minutes and refreshAccessToken
at most 5 a minute, for every worker sharing the limiter (a call that would break either
raises RetryableError with the wait). New tokens go to `save_tokens` (the caller encrypts and
stores them).

Budget: every request asks the shared `RequestLimiter` (the account level's QPS). CJ's rate
limit answer pauses the account for a second, its daily limit until 00:00 UTC (when CJ's
points reset), for everyone sharing the limiter.

Envelopes: business errors arrive in HTTP 200 with a non-200 `code`: token codes refresh once
and retry, a refused key is a PermanentError that names it, refusals of an order come back as
a Rejection, anything else a PermanentError with CJ's code, message and requestId.

Exactly once: createOrderV2 has no idempotency header, so `orderNumber` (our reference) is the
anchor: create_order looks it up first, and again after a timeout or a "number exists" answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.http import HttpClient, TransientHttpError
from connectors.request_limits import RequestLimiter, limit_requests
from connectors.suppliers.base import (
    AWAITING_PAYMENT,
    CreateResult,
    LineOffer,
    Quote,
    ShippingOption,
    SupplierOrderRequest,
    SupplierOrderView,
)
from connectors.suppliers.cjdropshipping import mapper, units
from connectors.suppliers.cjdropshipping.mapper import Envelope, Tokens
from connectors.suppliers.cjdropshipping.settings import CJSettings
from core.countries import country_name
from core.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)


class CJProblem(PermanentError):
    """CJ answered with a business error retrying will not fix; the message says which."""

    def __init__(self, path: str, envelope: Envelope) -> None:
        super().__init__(f"CJ {path}: {envelope.message or 'error'} (code {envelope.code}, "
                         f"requestId {envelope.request_id or '-'})")
        self.code = envelope.code
        self.cj_message = envelope.message


class CJKeyRefused(CJProblem):
    """The API key itself is refused (wrong, revoked, account gone): only the owner can fix."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


# One token purchase at a time per account in this process: the others wait, then use the
# token it bought (other processes see it in the store, or are refused by the shared limit).
_token_locks: dict[str, threading.Lock] = {}
_token_locks_guard = threading.Lock()


def _token_lock(key: str) -> threading.Lock:
    with _token_locks_guard:
        return _token_locks.setdefault(key, threading.Lock())


class CJSupplier:
    def __init__(self, settings: CJSettings, *, limiter: RequestLimiter, limit_key: str,
                 tokens: Tokens | None = None,
                 save_tokens: Callable[[Tokens], None] = lambda tokens: None,
                 load_tokens: Callable[[], Tokens | None] | None = None,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.settings = settings
        self.limiter = limiter
        self.key = limit_key
        self.tokens = tokens
        self.save_tokens = save_tokens
        self.load_tokens = load_tokens
        self.refused: str | None = None  # an access token CJ refused: never used again
        self.now = now
        self.http = HttpClient(settings.base_url.rstrip("/"),
                               timeout=(5.0, settings.timeout_seconds),
                               verify=settings.ca_bundle or True,
                               headers={"Content-Type": "application/json"})
        limit_requests(self.http, limiter, limit_key, settings.requests_per_second)

    # --- tokens ----------------------------------------------------------------------------

    def _usable(self, tokens: Tokens | None) -> bool:
        return bool(tokens and tokens.access_token != self.refused
                    and tokens.access_expires_at - units.ACCESS_TOKEN_MARGIN > self.now())

    def access_token(self) -> str:
        if self.tokens is not None and self._usable(self.tokens):
            return self.tokens.access_token
        with _token_lock(self.key):
            if self.load_tokens is not None:  # another worker may have just bought one
                stored = self.load_tokens()
                if stored is not None and self._usable(stored):
                    self.tokens = stored
                    return stored.access_token
            return self._renew()

    def _renew(self) -> str:
        now = self.now()
        tokens = self.tokens
        if tokens and tokens.refresh_expires_at - units.REFRESH_TOKEN_MARGIN > now:
            try:
                return self._refresh(tokens.refresh_token)
            except CJProblem as exc:
                if exc.code != units.INVALID_REFRESH_TOKEN:
                    raise
                log.info("CJ refresh token refused; getting a new token with the API key")
        return self._get_token()

    def _refresh(self, refresh_token: str) -> str:
        self.limiter.acquire(f"{self.key}:refresh", units.REFRESH_PER_SECOND)
        data = self._call("POST", "/authentication/refreshAccessToken",
                          json={"refreshToken": refresh_token}, auth=False)
        return self._keep(data)

    def _get_token(self) -> str:
        self.limiter.acquire(f"{self.key}:getAccessToken",
                             1.0 / units.GET_TOKEN_EVERY_SECONDS)
        data = self._call("POST", "/authentication/getAccessToken",
                          json={"apiKey": self.settings.api_key}, auth=False)
        return self._keep(data)

    def _keep(self, data: Any) -> str:
        tokens = mapper.parse_tokens(data)
        if tokens is None:
            raise PermanentError("CJ answered the token request without a usable token")
        self.tokens = tokens
        self.save_tokens(tokens)
        return tokens.access_token

    # --- the envelope ----------------------------------------------------------------------

    def _call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        """One API call: the data of a successful envelope, else the right exception."""
        for attempt in (1, 2):
            headers = {"CJ-Access-Token": self.access_token()} if auth else {}
            response = self.http.request(method, path, headers=headers, **kwargs)
            try:
                envelope = mapper.read_envelope(response.json())
            except ValueError:
                raise TransientHttpError(f"CJ {path}: the answer is not JSON") from None
            if envelope.ok:
                return envelope.data
            if auth and attempt == 1 and envelope.code in units.TOKEN_CODES:
                log.info("CJ refused the access token (%s); getting a fresh one", envelope.code)
                self.refused = headers["CJ-Access-Token"]
                continue
            raise self._problem(path, envelope)
        raise AssertionError("unreachable")

    def _problem(self, path: str, envelope: Envelope) -> Exception:
        if envelope.code == units.TOO_MANY_REQUESTS or units.contains(
                envelope.message, ("too many requests",)):
            if units.contains(envelope.message, units.DAILY_LIMIT_WORDS):
                wait = self._until_midnight_utc()
                self.limiter.pause(self.key, wait)
                return RetryableError(f"CJ {path}: the daily request limit is reached; "
                                      f"calls wait {wait / 3600:.1f} h until 00:00 UTC",
                                      retry_after_seconds=wait, throttled=True)
            self.limiter.pause(self.key, 1.0)
            return RetryableError(f"CJ {path}: too many requests per second",
                                  retry_after_seconds=1.0, throttled=True)
        if envelope.code == units.SYSTEM_BUSY:
            return RetryableError(f"CJ {path}: system busy (code {envelope.code})",
                                  retry_after_seconds=5.0)
        if envelope.code in units.KEY_CODES or (envelope.code in units.TOKEN_CODES
                                                 and "authentication" in path):
            return CJKeyRefused(path, envelope)
        return CJProblem(path, envelope)

    def _until_midnight_utc(self) -> float:
        now = self.now().astimezone(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max((midnight - now).total_seconds(), 1.0)

    # --- catalogue -------------------------------------------------------------------------

    def variant(self, vid: str = "", sku: str = "") -> mapper.Variant | None:
        """A variant by its vid, else by its variant SKU; None when CJ knows neither."""
        try:
            if vid:
                return mapper.parse_variant(self._call("GET", "/product/variant/queryByVid",
                                                       params={"vid": vid}))
            found = mapper.parse_variants(self._call("GET", "/product/variant/query",
                                                     params={"variantSku": sku}))
        except CJProblem as exc:
            if exc.code == units.PARAM_ERROR:
                return None  # CJ's answer for an id it does not know
            raise
        return next((v for v in found if v.sku == sku), found[0] if found else None)

    def product_variants(self, pid: str) -> list[mapper.Variant]:
        """The variants of a CJ product (the owner picks one when linking a SKU)."""
        return mapper.parse_variants(self._call("GET", "/product/query", params={"pid": pid}))

    def stock(self, vid: str) -> int:
        data = self._call("GET", "/product/stock/queryByVid", params={"vid": vid})
        return mapper.parse_stock(data, self.settings.from_country)

    def freight(self, request: SupplierOrderRequest,
                vids: list[str]) -> list[ShippingOption]:
        payload = mapper.build_freight(request, self.settings.from_country, vids)
        return mapper.parse_freight(self._call("POST", "/logistic/freightCalculate",
                                               json=payload, retry_safe=True))

    def balance(self) -> Decimal | None:
        return mapper.parse_balance(self._call("GET", "/shopping/pay/getBalance"))

    def _vids(self, request: SupplierOrderRequest) -> list[mapper.Variant | None]:
        return [self.variant(line.supplier_variant_id, line.supplier_sku)
                for line in request.lines]

    def quote(self, request: SupplierOrderRequest) -> Quote | None:
        variants = self._vids(request)
        offers = []
        for line, variant in zip(request.lines, variants, strict=True):
            if variant is None:
                offers.append(LineOffer(line.supplier_sku, None, found=False))
                continue
            offers.append(LineOffer(line.supplier_sku, self.stock(variant.vid), variant.price))
        if any(v is None for v in variants):
            return Quote(offers, ())
        options = self.freight(request, [v.vid for v in variants if v is not None])
        return Quote(offers, options)

    # --- orders ----------------------------------------------------------------------------

    def find_order(self, reference: str) -> str | None:
        for page in range(1, self.settings.find_pages + 1):
            data = self._call("GET", "/shopping/order/list",
                              params={"pageNum": page, "pageSize": 50})
            found = mapper.find_in_list(data, reference)
            if found or page * 50 >= mapper.list_total(data):
                return found
        return None

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult:
        if not request.reference:
            raise PermanentError("a CJ order needs the store's order reference")
        existing = self.find_order(request.reference)
        if existing is not None:
            return self._created(existing, replayed=True)
        variants = self._vids(request)
        if any(v is None for v in variants):
            raise PermanentError(f"CJ knows no variant for {request.order_number}")
        vids = [v.vid for v in variants if v is not None]
        pay_type = units.PAY_WITH_BALANCE if self.settings.pay_from_balance \
            else units.CREATE_ONLY
        body = mapper.build_order(request, vids, self.settings.from_country, pay_type,
                                  country_name(request.recipient.country))
        try:
            data = self._call("POST", "/shopping/order/createOrderV2", json=body)
        except RetryableError:
            # Timeout or 5xx: CJ may have created it. Look before anyone sends it again.
            found = self._find_after_failure(request.reference)
            if found is not None:
                return self._created(found, replayed=True)
            raise
        except CJProblem as exc:
            if mapper.is_duplicate(exc.code, exc.cj_message):
                found = self.find_order(request.reference)
                if found is not None:
                    return self._created(found, replayed=True)
            refusal = mapper.order_refusal(exc.code, exc.cj_message)
            if refusal is None:
                raise
            return CreateResult(rejection=refusal)
        order_id = mapper.created_order_id(data)
        if not order_id:
            found = self.find_order(request.reference)
            if found is None:
                raise RetryableError("CJ accepted the order without an order id; "
                                     "looking it up again later") from None
            order_id = found
        return self._created(order_id)

    def _find_after_failure(self, reference: str) -> str | None:
        try:
            return self.find_order(reference)
        except RetryableError:
            return None

    def _created(self, order_id: str, replayed: bool = False) -> CreateResult:
        view = self.get_order(order_id, with_tracking=False)
        pending = None
        if view.status == AWAITING_PAYMENT or (view.status == "received"
                                               and not self.settings.pay_from_balance):
            pending = ("My CJ → Orders → Awaiting payment; or allow DropTrack to pay from "
                       "the CJ balance in the supplier's settings")
        return CreateResult(external_id=order_id, replayed=replayed, awaiting_payment=pending)

    def get_order(self, external_id: str, with_tracking: bool = True) -> SupplierOrderView:
        data = self._call("GET", "/shopping/order/getOrderDetail",
                          params={"orderId": external_id})
        numbers = mapper.track_numbers(data) if with_tracking else []
        tracks = mapper.parse_tracks(self._call("GET", "/logistic/trackInfo",
                                                params={"trackNumber": numbers})) \
            if numbers else {}
        view = mapper.parse_order(data, tracks)
        return view if view.external_id else SupplierOrderView(
            external_id, view.status, view.parcels, view.note)

    def cancel_order(self, external_id: str) -> bool:
        view = self.get_order(external_id, with_tracking=False)
        if view.status == "cancelled":
            return True
        if view.status == "shipped":
            return False
        try:
            self._call("DELETE", "/shopping/order/deleteOrder", params={"orderId": external_id})
        except CJProblem:
            return False  # CJ no longer lets it go (paid and in the warehouse)
        return True

    def set_webhooks(self, callback_url: str) -> None:
        """ORDER and LOGISTIC messages to `callback_url` (one URL per topic, https only)."""
        self._call("POST", "/webhook/set", json=mapper.build_webhooks(callback_url),
                   retry_safe=True)

    def close(self) -> None:
        self.http.close()
