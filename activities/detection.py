"""Agent 1, detection: classify a batch of raw alerts."""

from __future__ import annotations

from temporalio import activity

from activities.poison import final_errors
from incidentflow.agents.detection import detect
from incidentflow.context import AgentContext
from incidentflow.llm.detection import detect_llm
from incidentflow.llm.select import answer, given
from incidentflow.models import AlertBatch, DetectionResult


class DetectionActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="detect")
    async def detect(self, batch: AlertBatch) -> DetectionResult:
        """Severity, service, flapping and noise for every alert of the batch."""
        graph = await self._ctx.graph_for(batch.alerts)
        with final_errors("detection"):
            found = detect(batch, graph, self._ctx.rules.detection)
        llm = self._ctx.llm
        if llm is None or not llm.enabled("detection") or not batch.alerts:
            return found
        return await answer(
            llm,
            "detection",
            incident_id=None,
            llm=lambda meter, deadline: detect_llm(llm, batch, found, graph, meter, deadline),
            rules=given(found),
        )
