"""`/wc-auth/v1/...`: the key-request flow an app uses to obtain REST API keys.

authorize (consent page) -> access_granted (create keys, POST them as JSON to callback_url,
delete them unless it answered exactly 200) -> redirect to return_url `success=1&user_id=`.
Deny links to return_url with `success=0`. Errors render WooCommerce's 401 "Access denied".

WooCommerce requires `callback_url` to start with https://. The sandbox also accepts http://
for loopback hosts (127.0.0.1, localhost, ::1) unless built with
`allow_http_loopback_callback=False`, so tests can run a plain local receiver.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from sandboxes.woocommerce.state import ADMIN_USER_ID, PERMISSIONS, WooCommerceStore

REQUIRED = ("app_name", "user_id", "return_url", "callback_url", "scope")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CALLBACK_TIMEOUT_SECONDS = 10.0
SCOPE_LABELS = {"read": "Read", "write": "Write", "read_write": "Read/Write"}


class WcAuthError(Exception):
    pass


def add_query_args(url: str, **args: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in args]
    return urlunsplit(parts._replace(query=urlencode([*query, *args.items()])))


def build_wc_auth_blueprint(store: WooCommerceStore, *,
                            allow_http_loopback_callback: bool = True) -> Blueprint:
    flow = Blueprint("wc_auth", __name__, url_prefix="/wc-auth/v1")
    issued_nonces: set[str] = set()

    def validated() -> dict[str, str]:
        data: dict[str, str] = {}
        for name in REQUIRED:
            value = request.args.get(name, "")
            if not value:
                raise WcAuthError(f"Missing parameter {name}")
            data[name] = value
        if data["scope"] not in PERMISSIONS:
            raise WcAuthError(f"Invalid scope {data['scope']}")
        for name in ("return_url", "callback_url"):
            parts = urlsplit(data[name])
            if not parts.scheme or not parts.netloc:
                raise WcAuthError(f"The {data[name]} is not a valid URL")
        callback = urlsplit(data["callback_url"])
        loopback_http = (allow_http_loopback_callback and callback.scheme == "http"
                         and callback.hostname in LOOPBACK_HOSTS)
        if callback.scheme != "https" and not loopback_http:
            raise WcAuthError("The callback_url needs to be over SSL")
        return data

    def access_denied(message: str) -> tuple[str, int]:
        return render_template("sandbox/woocommerce/wc_auth_error.html", store=store,
                               message=message), 401

    @flow.get("/login")
    def login() -> Response | tuple[str, int]:
        """The sandbox's merchant is always logged in: straight on to the consent page."""
        try:
            validated()
        except WcAuthError as error:
            return access_denied(str(error))
        return redirect(f"{store.home_url}wc-auth/v1/authorize?{urlencode(request.args)}")

    @flow.get("/authorize")
    def authorize() -> str | tuple[str, int]:
        try:
            data = validated()
        except WcAuthError as error:
            return access_denied(str(error))
        nonce = secrets.token_hex(10)
        issued_nonces.add(nonce)
        granted = f"{store.home_url}wc-auth/v1/access_granted?" + urlencode(
            {**data, "wc_auth_nonce": nonce})
        denied = add_query_args(data["return_url"], success="0", user_id=data["user_id"])
        return render_template("sandbox/woocommerce/wc_auth_grant.html", store=store,
                               app_name=data["app_name"], scope=SCOPE_LABELS[data["scope"]],
                               granted_url=granted, denied_url=denied)

    @flow.get("/access_granted")
    def access_granted() -> Response | tuple[str, int]:
        try:
            data = validated()
            nonce = request.args.get("wc_auth_nonce", "")
            if nonce not in issued_nonces:
                raise WcAuthError("Invalid nonce verification")
            issued_nonces.discard(nonce)
        except WcAuthError as error:
            return access_denied(str(error))
        key = store.create_key(data["scope"],  # type: ignore[arg-type]
                               description=f"{data['app_name']} - API", user_id=ADMIN_USER_ID)
        consumer_data = {"key_id": key.key_id, "user_id": data["user_id"],
                         "consumer_key": key.consumer_key,
                         "consumer_secret": key.consumer_secret,
                         "key_permissions": key.permissions}
        try:
            answer = requests.post(data["callback_url"], json=consumer_data,
                                   timeout=CALLBACK_TIMEOUT_SECONDS, allow_redirects=False)
            answer.close()
            if answer.status_code != 200:
                raise WcAuthError("An error occurred in the request and at the time were "
                                  "unable to send the consumer data")
        except (requests.RequestException, WcAuthError) as error:
            store.delete_key(key.key_id)
            return access_denied(str(error))
        return redirect(add_query_args(data["return_url"], success="1",
                                       user_id=data["user_id"]))

    return flow
