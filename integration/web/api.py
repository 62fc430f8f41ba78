"""The JSON API (/api/v1), token-authenticated and scoped per store."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__)
