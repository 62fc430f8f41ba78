"""POST /webhooks/cj/<supplier_id>/<token>: CJdropshipping's message push (ORDER, LOGISTIC).

CJ documents no signature (contracts/suppliers/cjdropshipping/FACTS.md §7; one third-party
SDK's `sign` header could not be verified), so the safe reading: the callback URL carries a
random token only DropTrack and CJ know (compared in constant time), the message is a hint
and never a fact (it queues a poll of the order; CJ's API stays the truth), and `messageId`
dedupes CJ's redeliveries. The answer is CJ's expected ack, `{"code": 200, "result":
"success"}`, within its 3 seconds (the message is stored, nothing more).
"""

from __future__ import annotations

import hmac

from integration.jobs import inbox
from integration.storage.models import Supplier
from webhooks.intake import Answer, Incoming, Intake, Rejected, parse_json_object, unauthorized

SOURCE = "cj"
TOPICS = frozenset({"ORDER", "LOGISTIC", "LOGISTICS", "ORDERSPLIT"})  # what DropTrack follows
ACK = {"code": 200, "result": "success", "message": "received"}


def receive(intake: Intake, incoming: Incoming, supplier_id: int, token: str) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    rt = intake.runtime
    with rt.db.read() as session:
        supplier = session.get(Supplier, supplier_id)
        stored = supplier.webhook_secret_encrypted if supplier is not None and \
            supplier.kind == SOURCE else None
        secret = rt.secrets.decrypt(stored) if stored else ""
    if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
        raise unauthorized(f"CJ push for supplier {supplier_id} with a wrong token")
    payload = parse_json_object(body)
    message_id, topic = payload.get("messageId"), payload.get("type")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 64 or \
            not message_id.isalnum() or not isinstance(topic, str):
        raise Rejected(400, "a CJ message needs messageId and type", "CJ message without id")
    if topic.upper() not in TOPICS:
        return Answer(200, ACK)  # products and stock: DropTrack reads them when it needs them
    intake.persist(inbox.Delivery(
        source=SOURCE, supplier_id=supplier_id, topic=f"cj.{topic.lower()}",
        dedupe_key=f"{supplier_id}:{message_id}", headers={}, body=body))
    return Answer(200, ACK)
