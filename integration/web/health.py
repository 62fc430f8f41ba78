"""GET /healthz (the process answers) and GET /readyz (it can do its job)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from integration.jobs.dispatcher import HEARTBEAT_NAME
from integration.kernel import heartbeat
from integration.kernel.runtime import Runtime
from integration.storage import migrate

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)

DISPATCHER_STALE_AFTER = timedelta(seconds=30)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok"), 200


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    runtime: Runtime = current_app.extensions["droptrack"]
    checks: dict[str, Any] = {}
    try:
        runtime.db.ping()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if migrate.is_current(runtime.db) else "pending"
        if runtime.settings.dispatcher.enabled:
            fresh = heartbeat.is_fresh(runtime, HEARTBEAT_NAME, DISPATCHER_STALE_AFTER)
            checks["dispatcher"] = "ok" if fresh else "not running"
        else:
            checks["dispatcher"] = "disabled"
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        checks.setdefault("database", "unreachable")
    ready = all(value in ("ok", "disabled") for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
