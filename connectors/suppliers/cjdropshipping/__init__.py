"""CJdropshipping Open API 2.0 (contracts/suppliers/cjdropshipping/FACTS.md)."""
