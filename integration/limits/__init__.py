"""Rate limits DropTrack keeps: which limiter a process uses, the Redis-shared ones, login and page
attempt limits.
"""
