"""The reference supplier over HTTPS: the only code here that does HTTP. Every request goes
through the supplier's `RequestLimiter` (see `connectors.request_limits`)."""

from __future__ import annotations

from connectors.http import HttpClient, HttpError
from connectors.request_limits import RequestLimiter, limit_requests
from connectors.suppliers.base import (
    CreateResult,
    Quote,
    SupplierOrderRequest,
    SupplierOrderView,
)
from connectors.suppliers.rest import mapper
from connectors.suppliers.rest.settings import RestSupplierSettings


class RestSupplier:
    def __init__(self, settings: RestSupplierSettings, *,
                 limiter: RequestLimiter | None = None, limit_key: str = "",
                 requests_per_second: float = 0.0) -> None:
        self.http = HttpClient(
            settings.base_url.rstrip("/") + "/v1",
            timeout=(5.0, settings.timeout_seconds),
            verify=settings.ca_bundle or True,
            headers={"Authorization": f"Bearer {settings.api_key}"},
        )
        if limiter is not None:
            limit_requests(self.http, limiter, limit_key or settings.base_url,
                           requests_per_second)

    def quote(self, request: SupplierOrderRequest) -> Quote | None:
        return None  # the protocol has no quote: stock and address are refused at create

    def find_order(self, reference: str) -> str | None:
        return None  # the Idempotency-Key header makes create_order replay instead

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult:
        try:
            response = self.http.request("POST", "/orders", json=mapper.build_order(request),
                                         headers={"Idempotency-Key": idempotency_key})
        except HttpError as error:
            rejection = mapper.parse_rejection(error.status, _json(error.body))
            if rejection is None:
                raise
            return CreateResult(rejection=rejection)
        body = response.json()
        return CreateResult(external_id=str(body["id"]),
                            replayed=response.headers.get("Idempotent-Replayed") == "true")

    def get_order(self, external_id: str) -> SupplierOrderView:
        return mapper.parse_order(self.http.get_json(f"/orders/{external_id}"))

    def cancel_order(self, external_id: str) -> bool:
        try:
            self.http.request("POST", f"/orders/{external_id}/cancel",
                              headers={"Idempotency-Key": f"cancel:{external_id}"})
        except HttpError as error:
            if error.status == 409:
                return False  # already shipped
            raise
        return True

    def register_webhook(self, url: str, secret: str) -> str:
        """Ask the supplier to push updates to `url`, signed with `secret`. Returns its id."""
        body = self.http.post_json("/webhooks", {"url": url, "secret": secret},
                                   headers={"Idempotency-Key": f"webhook:{url}"})
        return str(body["id"])

    def close(self) -> None:
        self.http.close()


def _json(body: str) -> object:
    import json

    try:
        return json.loads(body)
    except ValueError:
        return None
