"""Pytest fixtures for the woocommerce sandbox (filled in by the sandbox work)."""
