"""The outbox and inbox, the job registry, leases, and what runs jobs (the embedded dispatcher,
Dramatiq workers).
"""
