"""POST /webhooks/suppliers/<supplier_id>: signed push updates from a supplier.

The protocol (docs/supplier-protocol.md): `X-Supplier-Signature: sha256=<hex HMAC of the raw
body>`, `X-Supplier-Timestamp` within 300 seconds of our clock (no replays), and an event id
that stays the same on every retry (the dedupe key).
"""

from __future__ import annotations

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
    headers = incoming.require_headers((SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_HEADER,
                                        TYPE_HEADER))
    rt = intake.runtime
    with rt.db.read() as session:
        supplier = session.get(Supplier, supplier_id)
        token = supplier.webhook_secret_encrypted if supplier is not None else None
        secrets = [rt.secrets.decrypt(token).encode()] if token else []
    if not secrets:
        raise unauthorized(f"supplier {supplier_id} unknown or without a webhook secret")
    if not verify_prefixed_hex_hmac(body, headers[SIGNATURE_HEADER], secrets):
        raise unauthorized(f"bad signature for supplier {supplier_id}")
    try:
        sent = int(headers[TIMESTAMP_HEADER])
    except ValueError:
        raise Rejected(400, "malformed timestamp", "timestamp is not an integer") from None
    if abs(rt.clock.now().timestamp() - sent) > REPLAY_WINDOW_SECONDS:
        raise unauthorized(f"stale or future timestamp from supplier {supplier_id}")
    parse_json_object(body)
    return intake.persist(inbox.Delivery(
        source=SOURCE, supplier_id=supplier_id, topic=headers[TYPE_HEADER],
        dedupe_key=f"{supplier_id}:{headers[EVENT_HEADER]}",
        headers=incoming.kept_headers("x-supplier-", [SIGNATURE_HEADER]), body=body,
    ))
