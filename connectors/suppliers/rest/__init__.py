"""DropTrack's reference supplier protocol (docs/supplier-protocol.md) over HTTPS."""
