"""WSGI entry point for gunicorn: `gunicorn integration.web.wsgi:app` (configured like the CLI)."""

from __future__ import annotations

import gc

from integration.web.app import create_app

app = create_app()
_settings = app.extensions["droptrack"].settings
if not _settings.dispatcher.enabled and _settings.workers.send_at_commit:
    # Scaled out: a delivery's job goes on the queue when it is stored, not at the next sweep
    # (imported only here: Dramatiq and Redis's library cost a web process ~7 MB).
    from integration.jobs.workers import send_at_commit

    send_at_commit(_settings)

# Everything loaded so far (Flask, SQLAlchemy, the models, the app) lives as long as the
# worker: moved out of the collector's generations, full collections stop re-scanning it on
# every request burst.
gc.collect()
gc.freeze()
