"""Agent 1, detection: classify a batch of raw alerts."""

from __future__ import annotations

from temporalio import activity

from incidentflow.agents.detection import detect
from incidentflow.context import AgentContext
from incidentflow.models import AlertBatch, DetectionResult


class DetectionActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="detect")
    async def detect(self, batch: AlertBatch) -> DetectionResult:
        """Severity, service, flapping and noise for every alert of the batch."""
        return detect(batch, self._ctx.graph, self._ctx.rules.detection)
