"""WSGI entry point for gunicorn: `gunicorn integration.wsgi:app` (configured like the CLI)."""

from __future__ import annotations

from integration.app import create_app

app = create_app()
