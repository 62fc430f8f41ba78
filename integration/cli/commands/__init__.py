"""CLI command groups contributed by each part of DropTrack (registered in integration.cli.main)."""
