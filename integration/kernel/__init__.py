"""The Runtime one process shares (settings, database, clock, secrets, caches) and its heartbeats.
"""
