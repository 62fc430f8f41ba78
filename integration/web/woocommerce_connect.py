"""WooCommerce connect routes: the /wc-auth/v1 key request and its callback."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("woocommerce_connect", __name__)
