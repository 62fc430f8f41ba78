"""WSGI entry point for gunicorn: `gunicorn integration.web.wsgi:app` (configured like the CLI)."""

from __future__ import annotations

import gc

from integration.jobs import chain
from integration.web.app import create_app

app = create_app()
_settings = app.extensions["droptrack"].settings
if not _settings.dispatcher.enabled and _settings.workers.send_at_commit:
    # Scaled out: the scheduler hears of a delivery's job when it is stored (NOTIFY on
    # PostgreSQL) and queues it at once, not at its next sweep.
    chain.set_notify(True)

# Everything loaded so far (Flask, SQLAlchemy, the models, the app) lives as long as the
# worker: moved out of the collector's generations, full collections stop re-scanning it on
# every request burst.
gc.collect()
gc.freeze()
