"""Protocol-faithful local stand-ins for Shopify, WooCommerce and a supplier.

Each sandbox is a Flask app built by `build(clock, **options)` in its own module, listed in
`registry.SANDBOXES`. It enforces what the real platform enforces (auth, signatures,
validation, limits): a sandbox that accepts what the platform rejects makes tests lie.
"""
