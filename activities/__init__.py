"""Temporal activities: all I/O lives here, one agent per module.

Each activity takes exactly one pydantic model and returns the typed artifact the next step
requires. Activities are idempotent: the same input gives the same artifact.
"""
