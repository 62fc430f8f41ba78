"""Secrets at rest: MultiFernet encryption of credentials and webhook secrets."""
