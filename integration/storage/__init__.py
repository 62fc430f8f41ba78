"""The database: engine and sessions, models, migrations, insert-once helpers, SQLite's writer lock
and WAL checkpoints.
"""
