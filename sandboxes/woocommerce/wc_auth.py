"""`/wc-auth/v1/...`: the key-request flow an app uses to obtain REST API keys.

authorize (consent page) -> access_granted (create keys, POST them as JSON to callback_url,
delete them unless it answered exactly 200) -> redirect to return_url `success=1&user_id=`.
Deny links to return_url with `success=0`. Errors render WooCommerce's 401 "Access denied".

Validation is WooCommerce's `WC_Auth::make_validation()` (class-wc-auth.php, 10.x), run on
every route: each parameter present; scope read|write|read_write; both URLs valid after
`get_formatted_url()` (URL-decoded once more, `https://` put in front when there is no
`://`); and the callback starting with `https://` (case-insensitive), with no exception for
loopback: "The callback_url needs to be over SSL". The keys are POSTed with a 60 s timeout.

Certificates: WordPress verifies them; the realstore kit's must-use plugin (which also lets
the store reach loopback at all) does not for loopback hosts, and neither does the sandbox,
so a test's callback can use a throwaway certificate. Anywhere else it verifies them.
"""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import requests
from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from sandboxes.woocommerce.state import ADMIN_USER_ID, PERMISSIONS, WooCommerceStore

REQUIRED = ("app_name", "user_id", "return_url", "callback_url", "scope")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CALLBACK_TIMEOUT_SECONDS = 60.0  # WC_Auth::post_consumer_data()
SCOPE_LABELS = {"read": "Read", "write": "Write", "read_write": "Read/Write"}


class WcAuthError(Exception):
    pass


def add_query_args(url: str, **args: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in args]
    return urlunsplit(parts._replace(query=urlencode([*query, *args.items()])))


def formatted_url(url: str) -> str:
    """`WC_Auth::get_formatted_url()`: PHP's urldecode() of the (already decoded) value, and
    https:// in front of an address with no scheme."""
    url = unquote_plus(url)
    return url if "://" in url else f"https://{url}"


def _valid_url(url: str) -> bool:
    """Close to PHP's FILTER_VALIDATE_URL: a scheme, a host, no spaces or control bytes."""
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc) and not any(
        ch.isspace() or ord(ch) < 32 for ch in url)


def post_consumer_data(url: str, consumer_data: dict[str, object]) -> int:
    """POST the keys as JSON; the answer's status. A loopback receiver's certificate is not
    checked (as the realstore kit's plugin lets the real store do), elsewhere it is."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS:
        with requests.post(url, json=consumer_data, timeout=CALLBACK_TIMEOUT_SECONDS,
                           allow_redirects=False) as answer:
            return answer.status_code
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port, timeout=CALLBACK_TIMEOUT_SECONDS,
        context=ssl._create_unverified_context())  # noqa: S323 - loopback test receivers
    try:
        path = parts.path or "/"
        connection.request("POST", f"{path}?{parts.query}" if parts.query else path,
                           body=json.dumps(consumer_data).encode(),
                           headers={"Content-Type": "application/json;charset=UTF-8"})
        return connection.getresponse().status
    finally:
        connection.close()


def build_wc_auth_blueprint(store: WooCommerceStore) -> Blueprint:
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
            if not _valid_url(formatted_url(data[name])):
                raise WcAuthError(f"The {formatted_url(data[name])} is not a valid URL")
        if not formatted_url(data["callback_url"]).lower().startswith("https://"):
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
        denied = add_query_args(formatted_url(data["return_url"]), success="0",
                                user_id=data["user_id"])
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
            if post_consumer_data(formatted_url(data["callback_url"]), consumer_data) != 200:
                raise WcAuthError("An error occurred in the request and at the time were "
                                  "unable to send the consumer data")
        except (requests.RequestException, OSError, http.client.HTTPException,
                WcAuthError) as error:
            store.delete_key(key.key_id)
            return access_denied(str(error))
        return redirect(add_query_args(formatted_url(data["return_url"]), success="1",
                                       user_id=data["user_id"]))

    return flow
