"""Workflow ids and the stream's signal names, shared by both workflows without an import cycle.

Deterministic module: constants and pure functions only.
"""

from __future__ import annotations

ALERTS_SIGNAL = "alerts"
# Several deliveries in one signal: the edge's group commit.
ALERT_BATCHES_SIGNAL = "alert_batches"
INCIDENT_CLOSED_SIGNAL = "incident_closed"
INCIDENT_MOVED_SIGNAL = "incident_moved"


def stream_workflow_id(partition: str) -> str:
    """The id of the alert stream workflow for one partition (by default an environment)."""
    return f"alerts-{partition}"
