"""What every room of integration may import: settings, logging, per-process background threads."""
