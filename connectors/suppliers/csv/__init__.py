"""The supplier who works by spreadsheet: order batches out as CSV, tracking back as CSV."""
