"""The shared core: errors, the clock, domain types, the status model and its wording. Imports
nothing of DropTrack's.
"""
