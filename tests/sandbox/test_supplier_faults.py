"""Reference supplier, faults: 5xx, timeouts, latency, created-then-timed-out, rate limits."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from sandboxes.supplier import FaultKind
from tests.helpers.sandbox_supplier import SupplierSandbox

CLIENT_TIMEOUT = 0.5
SERVER_HOLD = 1.0


def test_error_fault_answers_500_once_and_creates_nothing(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error", endpoint="create_order")
    failed = supplier_sandbox.create_order(idempotency_key="k")
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"
    assert supplier_sandbox.state.orders == {}
    assert supplier_sandbox.create_order(idempotency_key="k").status_code == 201


def test_global_error_fault_with_a_custom_status_hits_every_endpoint(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error", times=2, status=503)
    assert supplier_sandbox.create_order().status_code == 503
    response = requests.post(f"{supplier_sandbox.url}/v1/tracking/batch",
                             json={"tracking_numbers": ["X"]}, headers=supplier_sandbox.headers(),
                             timeout=5)
    assert response.status_code == 503
    assert supplier_sandbox.create_order().status_code == 201
    assert supplier_sandbox.state.faults.fired[("create_order", FaultKind.ERROR)] == 1


def test_timeout_fault_outlasts_the_client_and_creates_nothing(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("timeout", endpoint="create_order", seconds=SERVER_HOLD)
    with pytest.raises(requests.Timeout):
        supplier_sandbox.create_order(idempotency_key="k", timeout=CLIENT_TIMEOUT)
    time.sleep(SERVER_HOLD)
    assert supplier_sandbox.state.orders == {}
    assert supplier_sandbox.create_order(idempotency_key="k").status_code == 201


def test_latency_fault_slows_but_answers(supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("latency", endpoint="create_order", seconds=0.3)
    started = time.monotonic()
    response = supplier_sandbox.create_order()
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3


def test_order_created_but_answer_timed_out_is_returned_on_retry(
        supplier_sandbox: SupplierSandbox) -> None:
    state = supplier_sandbox.state
    state.faults.add("timeout_after_create", endpoint="create_order", seconds=SERVER_HOLD)
    with pytest.raises(requests.Timeout):
        supplier_sandbox.create_order(idempotency_key="order-1001", timeout=CLIENT_TIMEOUT)
    assert len(state.orders) == 1  # it exists although the client saw a timeout
    retry = supplier_sandbox.create_order(idempotency_key="order-1001")
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == next(iter(state.orders))
    assert len(state.orders) == 1
    assert state.call_count("create_order") == 2


def test_error_after_create_also_leaves_the_order_for_the_retry(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error_after_create", endpoint="create_order", status=502)
    assert supplier_sandbox.create_order(idempotency_key="k").status_code == 502
    assert supplier_sandbox.create_order(idempotency_key="k").status_code == 200
    assert len(supplier_sandbox.state.orders) == 1


def test_rate_limit_answers_429_with_retry_after_until_the_clock_moves(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.rate_limiter.configure(10)
    url = f"{supplier_sandbox.url}/v1/orders/SO000001"
    codes = [requests.get(url, headers=supplier_sandbox.headers(), timeout=5).status_code
             for _ in range(11)]
    assert codes == [404] * 10 + [429]
    limited = requests.get(url, headers=supplier_sandbox.headers(), timeout=5)
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["code"] == "rate_limited"
    supplier_sandbox.clock.advance(timedelta(seconds=1))
    assert requests.get(url, headers=supplier_sandbox.headers(), timeout=5).status_code == 404
    supplier_sandbox.state.add_api_key("sk_test_other")  # one bucket per key
    other = requests.get(url, headers={"Authorization": "Bearer sk_test_other"}, timeout=5)
    assert other.status_code == 404


def test_calls_are_counted_per_endpoint(supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.create_order()
    supplier_sandbox.track("X")
    state = supplier_sandbox.state
    assert (state.call_count("create_order"), state.call_count("track_batch")) == (1, 1)
    assert state.responses[("create_order", 201)] == 1
