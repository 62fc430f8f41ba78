"""The `droptrack` command groups, one module each, each exporting COMMANDS
(registered by integration.cli.main)."""
