"""Shopify jobs and sweeps: install, webhooks, fulfillment service, tokens, reconciliation,
compliance.
"""
