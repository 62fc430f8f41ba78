"""Pytest fixtures for the shopify sandbox (filled in by the sandbox work)."""
