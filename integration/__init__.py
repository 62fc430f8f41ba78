"""DropTrack: order forwarding and tracking for Shopify and WooCommerce dropshipping stores."""
