"""Agent 2, correlation: collapse detections into incidents over the service graph."""

from __future__ import annotations

from temporalio import activity

from incidentflow.agents.correlation import correlate
from incidentflow.context import AgentContext
from incidentflow.models import CorrelationInput, CorrelationResult


class CorrelationActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="correlate")
    async def correlate(self, inp: CorrelationInput) -> CorrelationResult:
        """New incidents, alerts joined to open ones, and what was dropped as noise."""
        return correlate(inp, self._ctx.graph, self._ctx.rules.correlation)
