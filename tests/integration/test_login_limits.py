"""Sign-in limits per address and per account, not only per address + e-mail, without a way
to lock the owner out; signing out ends the session on the server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integration.kernel.runtime import Runtime
from tests.integration.test_admin_data import OWNER_EMAIL, OWNER_PASSWORD, Shop, build_shop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


def csrf(client: FlaskClient, path: str = "/admin/") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match is not None
    return match.group(1)


def sign_in(client: FlaskClient, address: str, email: str = OWNER_EMAIL,
            password: str = OWNER_PASSWORD) -> int:
    page = client.get("/admin/login", environ_base={"REMOTE_ADDR": address})
    match = CSRF.search(page.get_data(as_text=True))
    assert match is not None
    return client.post("/admin/login", environ_base={"REMOTE_ADDR": address}, data={
        "email": email, "password": password, "csrf_token": match.group(1)}).status_code


def test_spraying_many_accounts_from_one_address_is_paused(app: Flask, shop: Shop) -> None:
    attacker = app.test_client()
    answers = [sign_in(attacker, "198.51.100.1", f"user{n}@example.com", "guess")
               for n in range(21)]
    assert answers[:20] == [401] * 20 and answers[20] == 429
    assert sign_in(app.test_client(), "203.0.113.50") == 302  # the owner, elsewhere


def test_one_account_guessed_from_many_addresses_backs_off(app: Flask, shop: Shop) -> None:
    for n in range(6):  # five free failures, then the account waits
        assert sign_in(app.test_client(), f"198.51.100.{n + 1}", password="guess") == 401
    # Even the right password from yet another address waits its turn ...
    assert sign_in(app.test_client(), "198.51.100.99") == 429
    # ... but only for a while: never a lockout.
    shop.clock.advance(timedelta(seconds=31))
    assert sign_in(app.test_client(), "198.51.100.99") == 302


def test_the_owners_own_browser_is_not_slowed_by_someone_guessing(app: Flask,
                                                                  shop: Shop) -> None:
    owner = app.test_client()
    assert sign_in(owner, "203.0.113.50") == 302
    owner.post("/admin/logout", data={"csrf_token": csrf(owner)})
    for n in range(10):
        sign_in(app.test_client(), f"198.51.100.{n + 1}", password="guess")
    assert sign_in(app.test_client(), "198.51.100.99") == 429  # a stranger waits
    assert sign_in(owner, "203.0.113.50") == 302  # the browser that signed in before does not


def test_signing_out_ends_the_session_on_the_server(app: Flask, shop: Shop) -> None:
    owner = app.test_client()
    assert sign_in(owner, "203.0.113.50") == 302
    stolen = owner.get_cookie("droptrack_session")
    assert stolen is not None
    owner.post("/admin/logout", data={"csrf_token": csrf(owner)})
    thief = app.test_client()
    thief.set_cookie("droptrack_session", stolen.value)
    assert thief.get("/admin/").status_code == 302  # a copy of the cookie signs no one in
