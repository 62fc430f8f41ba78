"""The scheduler: timed sweeps that only enqueue, one active scheduler (leadership), the scaled-out
scheduler process.
"""
