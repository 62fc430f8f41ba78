"""Work with the outside world through connectors: store deliveries, reconciliation, write-back,
Shopify, WooCommerce, CSV suppliers.
"""
