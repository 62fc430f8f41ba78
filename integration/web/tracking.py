"""The customer's tracking page (/track): order number + email."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("tracking", __name__)
