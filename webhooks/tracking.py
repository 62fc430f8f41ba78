"""POST /webhooks/tracking/17track: 17TRACK's signed pushes.

17TRACK signs each push with the account's API key: header `sign` = hex SHA-256 of the raw
body + "/" + key, checked here on the raw bytes in constant time before anything is stored.
The inbox keeps one row per distinct body, so a repeated push is acknowledged and ignored.
"""

from __future__ import annotations

from connectors.tracking.seventeen_track import NAME, mapper
from connectors.tracking.seventeen_track.connector import SIGN_HEADER
from integration.jobs import inbox
from webhooks.intake import Answer, Incoming, Intake, parse_json_object, unauthorized

SOURCE = NAME


def receive(intake: Intake, incoming: Incoming) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    key = intake.runtime.settings.tracking.seventeen_track_key
    if not key:
        raise unauthorized("17TRACK push, but tracking.seventeen_track_key is not set")
    signature = incoming.require_headers((SIGN_HEADER,))[SIGN_HEADER]
    if not mapper.verify_sign(body, signature, [key]):
        raise unauthorized("bad 17TRACK sign")
    payload = parse_json_object(body)
    return intake.persist(inbox.Delivery(
        source=SOURCE, topic=str(payload.get("event") or "")[:100],
        dedupe_key=mapper.dedupe_key(body), headers={}, body=body))
