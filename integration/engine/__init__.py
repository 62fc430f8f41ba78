"""The sync engine: decisions about orders, suppliers and shipments. No Flask, no HTTP."""
