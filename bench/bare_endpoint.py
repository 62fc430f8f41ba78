"""Baseline for the webhook-intake benchmark: a bare Flask endpoint that only checks the HMAC.

It answers `POST /webhooks/shopify` like DropTrack would, minus everything DropTrack does after
the signature check (store lookup, secret decryption, JSON parsing, the inbox commit). Run it
under the same gunicorn settings as DropTrack:

    BENCH_WEBHOOK_SECRET=S gunicorn --pythonpath bench bare_endpoint:app

`bench/webhook_intake.py` starts it for you.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from flask import Flask, Response, request

SECRET = os.environ.get("BENCH_WEBHOOK_SECRET", "").encode("utf-8")
HMAC_HEADER = "X-Shopify-Hmac-Sha256"

app = Flask(__name__)


def signature_ok(body: bytes, signature: str) -> bool:
    """Constant-time check of base64(HMAC-SHA256(body, SECRET))."""
    try:
        expected = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    digest = hmac.new(SECRET, body, hashlib.sha256).digest()
    return hmac.compare_digest(digest, expected)


@app.get("/healthz")
def healthz() -> Response:
    return Response('{"status":"ok"}', status=200, mimetype="application/json")


@app.post("/webhooks/shopify")
def receive() -> Response:
    body = request.get_data(cache=False)
    if not SECRET or not signature_ok(body, request.headers.get(HMAC_HEADER, "")):
        return Response('{"error":"unauthorized"}', status=401, mimetype="application/json")
    return Response('{"status":"ok"}', status=200, mimetype="application/json")
