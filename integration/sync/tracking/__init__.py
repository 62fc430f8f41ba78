"""Tracking services as jobs: which parcels a service watches (`sources`), registering their
numbers once within the quota (`registration`), applying what the service says, by push or by
the fallback poll (`updates`, `pushes`, `polling`), and the sweeps that queue it (`schedule`).
"""
