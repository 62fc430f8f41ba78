"""WooCommerce jobs and sweeps: store state, reconciliation, webhook health, order statuses."""
