"""Logging: plain text or one JSON object per line, with the request or job being served."""

from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import UTC, datetime

from core.inputs import escape_controls

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

MAX_REQUEST_ID_CHARS = 64


def request_id_from(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is a sane one (printable, at most 64 characters),
    else a new random id."""
    if incoming and len(incoming) <= MAX_REQUEST_ID_CHARS and incoming.isprintable():
        return incoming
    return os.urandom(16).hex()  # what uuid4().hex is, without building a UUID


class ContextFilter(logging.Filter):
    """Adds request_id and job_id to every record (None outside a request or a job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


class TextFormatter(logging.Formatter):
    """One record, one line: control characters in the message (a value from a webhook, an
    order number) are escaped, so nothing can forge a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),  # json.dumps escapes control characters
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str, fmt: str) -> None:
    """Set up the root handler once per process (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_droptrack", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._droptrack = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    root.setLevel(logging.WARNING)
    for name in ("droptrack", "integration", "connectors", "webhooks"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
