"""Shopify app routes: install (authorization code grant) and the app proxy."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("shopify_app", __name__)
