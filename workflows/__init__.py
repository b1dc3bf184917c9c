"""Temporal workflows: orchestration only.

Code here is deterministic: no I/O, no clock but `workflow.now()`, no randomness, and
`workflow.logger` instead of print. Every side effect is an activity in `activities/`.
"""
