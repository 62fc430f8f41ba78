"""What every intake endpoint shares: body limits, rejections, persist-then-acknowledge."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Blueprint, Request, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from integration import inbox, stores
from integration.runtime import Runtime
from integration.storage.driver_insert import integrity_error
from integration.storage.models import Store
from webhooks.store_secrets import Loader, StoreSecretCache, StoreSigner

log = logging.getLogger("droptrack.webhooks")

# The same body for an unknown store and a bad signature: a caller learns nothing from it.
UNAUTHORIZED_BODY = {"error": "unauthorized"}


class Rejected(Exception):
    """A delivery refused before anything was stored."""

    def __init__(self, status: int, public: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.public = public
        self.reason = reason


def runtime() -> Runtime:
    value: Runtime = current_app.extensions["droptrack"]
    return value


def secret_cache() -> StoreSecretCache:
    """One cache per app (so tests never share one)."""
    cache: StoreSecretCache | None = current_app.extensions.get("droptrack_store_secrets")
    if cache is None:
        cache = current_app.extensions.setdefault("droptrack_store_secrets",
                                                  StoreSecretCache())
    return cache


def signer_loader(find: Callable[[Session], Store | None]) -> Loader:
    """Load a store's id and decrypted webhook secrets from the database."""

    def load() -> StoreSigner | None:
        rt = runtime()
        with rt.db.read() as session:
            store = find(session)
            if store is None:
                return None
            return StoreSigner(store.id, tuple(stores.webhook_secrets(rt, store)))

    return load


def read_body(request: Request) -> bytes:
    """The raw body, refusing anything over the configured limit before reading it all."""
    limit = runtime().settings.webhooks.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "payload too large", f"body of {request.content_length} bytes")
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise Rejected(413, "payload too large", "streamed body over the limit") from None
    if len(body) > limit:
        raise Rejected(413, "payload too large", f"body of {len(body)} bytes")
    return body


def require_headers(request: Request, names: Iterable[str]) -> dict[str, str]:
    environ = request.environ
    found = {name: environ.get(_environ_key(name), "") for name in names}
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise Rejected(400, f"missing header: {', '.join(missing)}", f"missing {missing}")
    return found


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def unauthorized(reason: str) -> Rejected:
    return Rejected(401, UNAUTHORIZED_BODY["error"], reason)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400. orjson parses about five times faster than the
    standard library; a body it refuses gets a second opinion from `json`, so what is
    accepted is exactly what the standard library accepts (e.g. integers beyond 64 bits)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Rejected(400, "malformed JSON body", "body is not JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, "malformed JSON body", "body is not a JSON object")
    return value


def kept_headers(request: Request, prefix: str, secret_headers: Iterable[str]) -> dict[str, str]:
    """The platform's headers worth keeping for the record, without signatures. (Read from
    the WSGI environ, named as werkzeug names them: this runs on every delivery.)"""
    wanted = _environ_key(prefix)
    drop = {_environ_key(name) for name in secret_headers}
    return {
        key[5:].replace("_", "-").title(): value
        for key, value in request.environ.items()
        if key.startswith(wanted) and key not in drop
    }


def persist(delivery: inbox.Delivery) -> ResponseReturnValue:
    """Store the delivery (or notice it is a duplicate), commit, then answer 200."""
    rt = runtime()
    try:
        inbox_id = inbox.record_directly(rt.db, delivery, rt.clock.now())
    except integrity_error(rt.db.engine):
        # A store was removed after its secrets were cached (rare): drop every cached entry
        # rather than guess this platform's cache key, so the next delivery reads fresh.
        secret_cache().clear()
        raise unauthorized(f"{delivery.source} store {delivery.store_id} no longer exists"
                           ) from None
    if inbox_id is None:
        log.info("duplicate %s delivery %s ignored", delivery.source, delivery.dedupe_key)
        return _json_answer({"status": "duplicate"})
    return _json_answer({"status": "stored", "id": inbox_id})


def _json_answer(body: dict[str, Any]) -> Response:
    """200 with a small JSON body (jsonify's provider machinery costs more than the rest of
    the answer on this path)."""
    return current_app.response_class(orjson.dumps(body), status=200,
                                      mimetype="application/json")


def handle_rejections(blueprint: Blueprint, source: str) -> None:
    """Answer a `Rejected` raised anywhere in the blueprint's routes, logging why."""

    def answer(rejected: Rejected) -> ResponseReturnValue:
        log.warning("%s webhook rejected (%d): %s", source, rejected.status, rejected.reason)
        return jsonify(error=rejected.public), rejected.status

    blueprint.register_error_handler(Rejected, answer)
