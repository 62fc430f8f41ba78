"""WSGI entry point for gunicorn: `gunicorn integration.web.wsgi:app` (configured like the CLI)."""

from __future__ import annotations

import gc

from integration.web.app import create_app

app = create_app()

# Everything loaded so far (Flask, SQLAlchemy, the models, the app) lives as long as the
# worker: moved out of the collector's generations, full collections stop re-scanning it on
# every request burst.
gc.collect()
gc.freeze()
