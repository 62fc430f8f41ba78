"""What every intake endpoint shares: the request as WSGI gave it, body limits, rejections,
persist-then-acknowledge. No Flask here: see `webhooks.endpoints` for why."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.orm import Session

from integration.accounts import stores
from integration.jobs import inbox
from integration.kernel.runtime import Runtime
from integration.storage.driver_insert import integrity_error
from integration.storage.models import Store
from webhooks.store_secrets import Loader, StoreSecretCache, StoreSigner

log = logging.getLogger("droptrack.webhooks")

# The same answer for an unknown store and a bad signature: a caller learns nothing from it.
UNAUTHORIZED = "unauthorized"
READ_CHUNK = 64 * 1024


class Rejected(Exception):
    """A delivery refused before anything was stored."""

    def __init__(self, status: int, public: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.public = public
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    """The endpoint's reply: an HTTP status and a small JSON object."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def unauthorized(reason: str) -> Rejected:
    return Rejected(401, UNAUTHORIZED, reason)


@lru_cache(maxsize=256)
def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


@lru_cache(maxsize=1024)
def _header_name(environ_key: str) -> str:
    """`HTTP_X_SHOPIFY_TOPIC` -> `X-Shopify-Topic` (the same few names on every delivery)."""
    return environ_key[5:].replace("_", "-").title()


class Incoming:
    """One delivery, read straight from the WSGI environ (headers as the server named them)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def has_header(self, name: str) -> bool:
        return _environ_key(name) in self.environ

    def require_headers(self, names: Iterable[str]) -> dict[str, str]:
        """The named headers, or a 400 naming those missing or empty."""
        environ = self.environ
        found = {name: str(environ.get(_environ_key(name), "")) for name in names}
        missing = [name for name, value in found.items() if not value]
        if missing:
            raise Rejected(400, f"missing header: {', '.join(missing)}", f"missing {missing}")
        return found

    def kept_headers(self, prefix: str, secret_headers: Iterable[str]) -> dict[str, str]:
        """The platform's headers worth keeping for the record, without signatures."""
        wanted = _environ_key(prefix)
        drop = {_environ_key(name) for name in secret_headers}
        return {
            _header_name(key): value
            for key, value in self.environ.items()
            if key.startswith(wanted) and key not in drop
        }

    def body(self, limit: int) -> bytes:
        """The raw body, refusing anything over `limit` bytes (before reading it when the
        length is declared). A body without a declared length is read only when the server
        marks the stream as terminated (chunked uploads), as werkzeug does."""
        stream = self.environ["wsgi.input"]
        declared = self.environ.get("CONTENT_LENGTH") or ""
        if declared:
            try:
                length = int(declared)
            except ValueError:
                raise Rejected(400, "malformed Content-Length",
                               f"Content-Length {declared[:40]!r}") from None
            if length < 0:
                raise Rejected(400, "malformed Content-Length", f"Content-Length {length}")
            if length > limit:
                raise Rejected(413, "payload too large", f"body of {length} bytes")
            return _read_exactly(stream, length)
        if not self.environ.get("wsgi.input_terminated"):
            return b""
        body = _read_exactly(stream, limit + 1)
        if len(body) > limit:
            raise Rejected(413, "payload too large", "streamed body over the limit")
        return body


def _read_exactly(stream: Any, length: int) -> bytes:
    """Up to `length` bytes: fewer only when the client stopped sending."""
    first: bytes = stream.read(length) if length else b""
    if len(first) == length or not first:
        return first
    parts, got = [first], len(first)
    while got < length:
        part = stream.read(min(READ_CHUNK, length - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400. orjson parses about five times faster than the
    standard library; a body it refuses gets a second opinion from `json` (integers beyond
    64 bits, UTF-16/32 bodies), but never for what JSON itself does not allow: NaN and
    Infinity, numbers beyond a double, nesting deeper than orjson's 1024 levels (the
    standard library would recurse until it fails)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
        except RecursionError:
            raise Rejected(400, "malformed JSON body", "JSON nested too deeply") from None
        except (UnicodeDecodeError, ValueError):  # incl. JSONDecodeError, huge integers
            raise Rejected(400, "malformed JSON body", "body is not JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, "malformed JSON body", "body is not a JSON object")
    return value


@dataclass
class Intake:
    """What the endpoints share for one app: its runtime and its cache of store secrets."""

    runtime: Runtime
    secrets: StoreSecretCache

    @property
    def max_body_bytes(self) -> int:
        return self.runtime.settings.webhooks.max_body_bytes

    def signer_loader(self, find: Callable[[Session], Store | None]) -> Loader:
        """Load a store's id and decrypted webhook secrets from the database."""
        runtime = self.runtime

        def load() -> StoreSigner | None:
            with runtime.db.read() as session:
                store = find(session)
                if store is None:
                    return None
                return StoreSigner(store.id, tuple(stores.webhook_secrets(runtime, store)))

        return load

    def persist(self, delivery: inbox.Delivery) -> Answer:
        """Store the delivery (or notice it is a duplicate), commit, then answer 200."""
        runtime = self.runtime
        try:
            inbox_id = inbox.record_directly(runtime.db, delivery, runtime.clock.now())
        except integrity_error(runtime.db.engine):
            # A store was removed after its secrets were cached (rare): drop every cached
            # entry rather than guess this platform's cache key, so the next one reads fresh.
            self.secrets.clear()
            raise unauthorized(f"{delivery.source} store {delivery.store_id} no longer exists"
                               ) from None
        if inbox_id is None:
            log.info("duplicate %s delivery %s ignored", delivery.source, delivery.dedupe_key)
            return Answer(200, {"status": "duplicate"})
        return Answer(200, {"status": "stored", "id": inbox_id})
