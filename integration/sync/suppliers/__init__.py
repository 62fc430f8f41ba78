"""Supplier work that is not a connector call: the spreadsheet suppliers' file exchange."""
