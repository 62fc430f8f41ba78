"""The owner's dashboard over HTTP: sign-in, sessions, CSRF, the needs-attention queue and its
actions, the orders table and the order page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select
from sqlalchemy.dialects import postgresql

from core.domain import Address, Payment
from core.status import Reason, Status
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, AuditLog, Order, OutboxJob, Shipment, TrackingEvent
from integration.web.admin.queries import OrderFilters, order_page_query
from tests.integration.test_admin_data import OWNER_EMAIL, OWNER_PASSWORD, Shop, build_shop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


def token(client: FlaskClient, path: str = "/admin/login") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match is not None
    return match.group(1)


def sign_in(client: FlaskClient, password: str = OWNER_PASSWORD) -> Any:
    return client.post("/admin/login", data={"email": OWNER_EMAIL.upper(), "password": password,
                                             "csrf_token": token(client)})


@pytest.fixture
def owner(client: FlaskClient, shop: Shop) -> FlaskClient:
    assert sign_in(client).status_code == 302
    return client


def post(client: FlaskClient, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": token(client, "/admin/attention"), **data},
                       follow_redirects=True)


@contextmanager
def count_statements(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", record)


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, shop: Shop) -> None:
    response = client.get("/admin/orders?status=pending")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=/admin/orders")


def test_wrong_password_is_refused_and_right_one_lets_in(client: FlaskClient,
                                                         shop: Shop) -> None:
    wrong = sign_in(client, "not the password")
    assert wrong.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert sign_in(client).headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "Overview" in page.get_data(as_text=True)


def test_repeated_failures_lock_sign_in(client: FlaskClient, shop: Shop) -> None:
    for _ in range(5):
        assert sign_in(client, "guess").status_code == 401
    locked = sign_in(client)  # even the right password, while locked
    assert locked.status_code == 429 and "paused" in locked.get_data(as_text=True)
    shop.clock.advance(timedelta(minutes=16))
    assert sign_in(client).status_code == 302


def test_sign_in_without_csrf_token_is_refused(client: FlaskClient, shop: Shop) -> None:
    response = client.post("/admin/login", data={"email": OWNER_EMAIL,
                                                 "password": OWNER_PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_tampered_session_cookie_signs_out(owner: FlaskClient) -> None:
    cookie = owner.get_cookie("droptrack_session")
    assert cookie is not None
    owner.set_cookie("droptrack_session", cookie.value[:-3] + "abc")
    assert owner.get("/admin/").status_code == 302


def test_sign_out_ends_the_session(owner: FlaskClient) -> None:
    response = post(owner, "/admin/logout")
    assert "Sign in to DropTrack" in response.get_data(as_text=True)
    assert owner.get("/admin/").status_code == 302


def test_actions_need_the_csrf_token(owner: FlaskClient, shop: Shop) -> None:
    shop.place("#1002", payment=Payment.AWAITING)
    with shop.runtime.db.read() as session:
        alert_id = session.scalars(select(Alert.id)).one()
    response = owner.post(f"/admin/alerts/{alert_id}/dismiss", data={"note": "x"})
    assert response.status_code == 400
    with shop.runtime.db.read() as session:
        assert session.get_one(Alert, alert_id).resolved_at is None


def test_dismissing_an_alert_records_who_and_why(owner: FlaskClient, shop: Shop) -> None:
    shop.place("#1002", payment=Payment.AWAITING)
    queue = owner.get("/admin/attention").get_data(as_text=True)
    assert "Payment issue" in queue and "#1002" in queue
    with shop.runtime.db.read() as session:
        alert_id = session.scalars(select(Alert.id)).one()
    page = post(owner, f"/admin/alerts/{alert_id}/dismiss", note="customer paid by bank",
                back="/admin/attention").get_data(as_text=True)
    assert "Marked as resolved" in page and "Nothing needs you right now" in page
    with shop.runtime.db.read() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "alert.resolved")).one()
    assert audit.actor == f"user:{OWNER_EMAIL}"
    assert audit.details == {"note": "customer paid by bank"}


def test_correcting_an_address_forwards_the_order(owner: FlaskClient, shop: Shop) -> None:
    order_id = shop.place("#1003", address=Address(name="Jo", address1="", city="Boston",
                                                   country="US"))
    with shop.runtime.db.read() as session:
        held = session.get_one(Order, order_id)
        assert (held.status, held.reason) == ("pending", "address_needs_confirmation")
    page = owner.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    assert "Address to confirm" in page and "Save address and forward" in page
    fields = {"ship_name": "Jo Smith", "ship_company": "", "ship_address1": "1 Main St",
              "ship_address2": "", "ship_city": "Boston", "ship_province": "MA",
              "ship_zip": "02108", "ship_country": "us", "ship_phone": ""}
    page = post(owner, f"/admin/orders/{order_id}/address",
                back=f"/admin/orders/{order_id}", **fields).get_data(as_text=True)
    assert "Address saved" in page
    with shop.runtime.db.read() as session:
        order = session.get_one(Order, order_id)
        jobs = session.scalars(select(OutboxJob.kind).where(
            OutboxJob.kind == "supplier.forward")).all()
    assert (order.status, order.ship_country) == ("processing", "US")
    assert jobs == ["supplier.forward"]


def test_undelivered_parcel_gets_a_corrected_tracking_number(owner: FlaskClient,
                                                             shop: Shop) -> None:
    order_id = shop.place("#1004")
    shop.ship(order_id, "LX123456785CN",
              ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    queue = owner.get("/admin/attention").get_data(as_text=True)
    assert "Undelivered" in queue and "Correct tracking number or carrier" in queue
    with shop.runtime.db.read() as session:
        shipment_id = session.scalars(select(Shipment.id)).one()
    page = post(owner, f"/admin/shipments/{shipment_id}/tracking",
                tracking_number="9400111206206406260787", carrier="",
                back="/admin/attention").get_data(as_text=True)
    assert "Tracking number changed to 9400111206206406260787" in page
    with shop.runtime.db.read() as session:
        parcel = session.get_one(Shipment, shipment_id)
        order = session.get_one(Order, order_id)
        writes = session.scalars(select(OutboxJob.idempotency_key).where(
            OutboxJob.kind == "store.writeback").order_by(OutboxJob.id)).all()
        correction = session.scalars(select(TrackingEvent).where(
            TrackingEvent.raw_status == "corrected")).one()
    assert (parcel.status, parcel.carrier, parcel.status_epoch) == ("info_received", "USPS", 1)
    assert order.status == "info_received"  # an explicit correction may move backwards
    assert writes[-1] == f"writeback:{shipment_id}:1:info_received::9400111206206406260787"
    assert correction.epoch == 1


def test_order_page_shows_the_full_timeline(owner: FlaskClient, shop: Shop) -> None:
    order_id = shop.place("#1005")
    shop.ship(order_id, "LX123456785CN",
              ("a", Status.IN_TRANSIT, 1, None, "Guangzhou hub"),
              ("b", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, "Springfield"))
    page = owner.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    for text in ("Order received by DropTrack", "Send to supplier", "Write-back to the store",
                 "LX123456785CN: In transit at Guangzhou hub",
                 "LX123456785CN: Undelivered: address not found at Springfield",
                 "could not be delivered (invalid address)", "Shenzhen Lights"):
        assert text in page, text
    assert owner.get("/admin/orders/999999").status_code == 404


def test_orders_table_filters_and_searches(owner: FlaskClient, shop: Shop) -> None:
    shipped = shop.place("#2001", email="ann@example.com")
    shop.ship(shipped, "LX123456785CN", ("a", Status.IN_TRANSIT, 1, None, ""))
    shop.place("#2002", email="bob@example.com", payment=Payment.AWAITING)

    def numbers(query: str) -> list[str]:
        page = owner.get(f"/admin/orders?{query}").get_data(as_text=True)
        return re.findall(r'/admin/orders/\d+">(#\d+)</a>', page)

    assert numbers("") == ["#2002", "#2001"]
    assert numbers("status=pending") == ["#2002"]
    assert numbers("reason=payment_issue") == ["#2002"]
    assert numbers("q=2001") == ["#2001"]
    assert numbers("q=BOB@example.com") == ["#2002"]
    assert numbers("q=lx123456785cn") == ["#2001"]
    assert numbers(f"supplier={shop.supplier_id}") == ["#2001"]
    assert numbers("from=2026-11-03") == []
    assert numbers("q=nothing-like-this") == []


def test_orders_pages_use_keyset_pagination_without_n_plus_one(
        owner: FlaskClient, shop: Shop, runtime: Runtime) -> None:
    now = shop.clock.now()
    with runtime.db.write() as session:
        session.execute(insert(Order), [
            {"store_id": shop.store_id, "number": f"#{5000 + i}", "email": f"c{i}@example.com",
             "status": "processing", "status_epoch": 0, "created_at": now, "updated_at": now}
            for i in range(5000)])
    first = owner.get("/admin/orders").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older is not None
    path = older.group(1).replace("&amp;", "&")
    for _ in range(3):  # walk a few pages deep
        with count_statements(runtime) as statements:
            page = owner.get(path).get_data(as_text=True)
        older = re.search(r'href="([^"]+)" rel="next"', page)
        assert older is not None
        path = older.group(1).replace("&amp;", "&")
    order_queries = [s for s in statements if "FROM orders" in s]
    assert any("orders.id <" in s for s in order_queries)
    # SQLite always renders "LIMIT ? OFFSET ?" (with 0); PostgreSQL shows the real query.
    on_postgres = str(order_page_query(OrderFilters(status="processing"), 4800, 50)
                      .compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert "OFFSET" not in on_postgres and "orders.id <" in on_postgres
    assert len(statements) <= 10, statements  # 50 rows, not one query per row
    assert "#9849" in page and "#9800" in page  # the fourth page of 50


def test_queue_and_overview_cost_a_fixed_number_of_queries(owner: FlaskClient, shop: Shop,
                                                           runtime: Runtime) -> None:
    for i in range(3):
        shop.place(f"#30{i}", payment=Payment.AWAITING)
    with count_statements(runtime) as few:
        owner.get("/admin/attention")
    for i in range(3, 12):
        order_id = shop.place(f"#30{i}")
        shop.ship(order_id, f"LX12345678{i % 10}CN",
                  ("x", Status.UNDELIVERED, 9, Reason.INVALID_ADDRESS, ""))
    with count_statements(runtime) as many:
        page = owner.get("/admin/attention").get_data(as_text=True)
    assert page.count('class="card queue-item"') == 12
    assert len(many) == len(few)
    overview = owner.get("/admin/").get_data(as_text=True)
    assert "<svg" in overview and "Orders by status" in overview


def test_second_factor_is_asked_after_the_password(client: FlaskClient, shop: Shop) -> None:
    import pyotp

    from integration.accounts import owners as accounts

    secret = accounts.new_totp_secret()
    totp = pyotp.TOTP(secret)
    with shop.runtime.db.write() as session:
        user = accounts.find_user(session, OWNER_EMAIL)
        assert user is not None
        assert accounts.enable_totp(session, shop.runtime.secrets, user.id, secret,
                                    totp.at(shop.clock.now()), shop.clock.now(), "test")
    shop.clock.advance(timedelta(seconds=60))
    response = sign_in(client)
    assert response.headers["Location"].startswith("/admin/login/code")
    assert client.get("/admin/").status_code == 302  # the password alone is not enough
    code_form = token(client, "/admin/login/code")
    wrong = client.post("/admin/login/code", data={"code": "000000", "csrf_token": code_form})
    assert wrong.status_code == 401
    right = client.post("/admin/login/code", data={"code": totp.at(shop.clock.now()),
                                                   "csrf_token": code_form})
    assert right.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
