"""POST /webhooks/tracking/17track and /webhooks/tracking/aftership: tracking services' signed
pushes, checked on the raw bytes in constant time before anything is stored.

* 17TRACK signs each push with the account's API key: header `sign` = hex SHA-256 of the raw
  body + "/" + key. The inbox keeps one row per distinct body.
* AfterShip signs each webhook with the webhook secret: header `aftership-hmac-sha256` =
  base64 HMAC-SHA256 of the raw body. The inbox keeps one row per `event_id` (a retry of the
  same webhook carries the same one).

A repeated push is acknowledged and ignored; a bad signature is a 401 and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.tracking import aftership, seventeen_track
from connectors.tracking.aftership import mapper as aftership_mapper
from connectors.tracking.seventeen_track import mapper as seventeen_track_mapper
from connectors.tracking.seventeen_track.connector import SIGN_HEADER
from integration.jobs import inbox
from webhooks.intake import Answer, Incoming, Intake, parse_json_object, unauthorized

SOURCE = seventeen_track.NAME
AFTERSHIP_SOURCE = aftership.NAME


def _receive(intake: Intake, incoming: Incoming, *, source: str, secret: str, setting: str,
             header: str, verify: Callable[[bytes, str, list[str]], bool],
             dedupe_key: Callable[[bytes], str], topic_field: str) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    if not secret:
        raise unauthorized(f"{source} push, but tracking.{setting} is not set")
    signature = incoming.require_headers((header,))[header]
    if not verify(body, signature, [secret]):
        raise unauthorized(f"bad {source} signature")
    payload = parse_json_object(body)
    return intake.persist(inbox.Delivery(
        source=source, topic=str(payload.get(topic_field) or "")[:100],
        dedupe_key=dedupe_key(body), headers={}, body=body))


def receive(intake: Intake, incoming: Incoming) -> Answer:
    return _receive(intake, incoming, source=SOURCE,
                    secret=intake.runtime.settings.tracking.seventeen_track_key,
                    setting="seventeen_track_key", header=SIGN_HEADER,
                    verify=seventeen_track_mapper.verify_sign,
                    dedupe_key=seventeen_track_mapper.dedupe_key, topic_field="event")


def receive_aftership(intake: Intake, incoming: Incoming) -> Answer:
    return _receive(intake, incoming, source=AFTERSHIP_SOURCE,
                    secret=intake.runtime.settings.tracking.aftership_webhook_secret,
                    setting="aftership_webhook_secret",
                    header=aftership_mapper.SIGNATURE_HEADER,
                    verify=aftership_mapper.verify_signature,
                    dedupe_key=aftership_mapper.dedupe_key, topic_field="event")
