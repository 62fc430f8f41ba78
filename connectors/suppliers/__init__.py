"""Supplier connectors: one package per kind of supplier, all with the same shape."""
