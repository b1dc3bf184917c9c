"""Agent 2, correlation: collapse detections into incidents over the service graph."""

from __future__ import annotations

from temporalio import activity

from activities.poison import final_errors
from incidentflow.agents.correlation import correlate
from incidentflow.context import AgentContext
from incidentflow.llm.correlation import correlate_llm
from incidentflow.llm.select import answer, given
from incidentflow.models import CorrelationInput, CorrelationResult


class CorrelationActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="correlate")
    async def correlate(self, inp: CorrelationInput) -> CorrelationResult:
        """New incidents, alerts joined to open ones, and what was dropped as noise."""
        # The graph as known now (learned edges included); each version keeps its cached walks.
        graph = await self._ctx.graph_for([d.alert for d in inp.detections])
        with final_errors("correlation"):
            found = correlate(inp, graph, self._ctx.rules.correlation)
        llm = self._ctx.llm
        # The model reviews new incidents only: joins and drops stay the rules engine's.
        if llm is None or not llm.enabled("correlation") or not found.new_incidents:
            return found
        return await answer(
            llm,
            "correlation",
            incident_id=None,
            llm=lambda meter, deadline: correlate_llm(llm, inp, found, graph, meter, deadline),
            rules=given(found),
        )
