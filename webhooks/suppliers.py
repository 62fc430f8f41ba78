"""POST /webhooks/suppliers/<supplier_id>: signed push updates from a supplier.

The protocol (docs/supplier-protocol.md): `X-Supplier-Signature: sha256=<hex HMAC of the raw
body>`; the body's `sent_at` within 300 seconds of our clock (no replays) and its event `id`,
the same on every retry, as the dedupe key. Only the signature covers anything, and it covers
the body alone: the `X-Supplier-Timestamp`, `-Event-Id` and `-Event-Type` headers repeat what
the body says and are never trusted (a captured push re-sent with a fresh timestamp header or
a new event id header is still stale, or still a duplicate).
"""

from __future__ import annotations

from connectors.parsing import timestamp
from core.clock import real_window
from integration.jobs import inbox
from integration.storage.models import Supplier
from webhooks.intake import (
    Answer,
    Incoming,
    Intake,
    Rejected,
    parse_json_object,
    unauthorized,
)
from webhooks.signatures import verify_prefixed_hex_hmac

SIGNATURE_HEADER = "X-Supplier-Signature"
TIMESTAMP_HEADER = "X-Supplier-Timestamp"
EVENT_HEADER = "X-Supplier-Event-Id"
TYPE_HEADER = "X-Supplier-Event-Type"
REPLAY_WINDOW_SECONDS = 300
SOURCE = "supplier"


def receive(intake: Intake, incoming: Incoming, supplier_id: int) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    headers = incoming.require_headers((SIGNATURE_HEADER,))
    rt = intake.runtime
    with rt.db.read() as session:
        supplier = session.get(Supplier, supplier_id)
        token = supplier.webhook_secret_encrypted if supplier is not None else None
        secrets = [rt.secrets.decrypt(token).encode()] if token else []
    if not secrets:
        raise unauthorized(f"supplier {supplier_id} unknown or without a webhook secret")
    if not verify_prefixed_hex_hmac(body, headers[SIGNATURE_HEADER], secrets):
        raise unauthorized(f"bad signature for supplier {supplier_id}")
    payload = parse_json_object(body)
    event_id, event_type = payload.get("id"), payload.get("type")
    if not _token(event_id, 200) or not _token(event_type, 100):
        raise Rejected(400, "the signed body needs an event id and type",
                       "body without id or type")
    sent_at = timestamp(payload.get("sent_at"), naive_is_utc=False)
    if sent_at is None:
        raise Rejected(400, "the signed body needs sent_at (ISO 8601 with offset)",
                       "body without sent_at")
    # The window bounds real time in flight: on the demo's accelerated clock it is scaled to
    # the clock's pace (core.clock.real_window); on a real clock it is 300 s exactly.
    if abs(rt.clock.now() - sent_at) > real_window(rt.clock, REPLAY_WINDOW_SECONDS):
        raise unauthorized(f"stale or future push from supplier {supplier_id}")
    return intake.persist(inbox.Delivery(
        source=SOURCE, supplier_id=supplier_id, topic=str(event_type),
        dedupe_key=f"{supplier_id}:{event_id}",
        headers=incoming.kept_headers("x-supplier-", [SIGNATURE_HEADER]), body=body,
    ))


def _token(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() \
        and value.strip() == value
