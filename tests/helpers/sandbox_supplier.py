"""Pytest fixtures for the supplier sandbox (filled in by the sandbox work)."""
