"""`droptrack demo`: DropTrack with a sandbox Shopify store, a sandbox WooCommerce store and two
suppliers (one REST, one spreadsheet), on simulated time, on one machine.

Modules: `workspace` (./var/demo: secrets, database, clock, settings), `sandboxes` (the three
sandbox servers), `setup` (install flows, suppliers, products, mappings, the owner's login),
`orders` (the stream of customer orders), `csv_partner` (plays the spreadsheet supplier),
`links` (what to open, printed as it appears), `run` (start, run, stop).
"""
