"""Agent 4, remediation planning: pick a reversible action from the catalog.

Planning only reads; executing lives in `activities.execution`, on its own task queue.
"""

from __future__ import annotations

from temporalio import activity

from incidentflow.agents.remediation import plan
from incidentflow.context import AgentContext
from incidentflow.models import PlanInput, RemediationPlan


class RemediationActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="plan_remediation")
    async def plan_remediation(self, inp: PlanInput) -> RemediationPlan:
        """A specific action with its verification and undo, plus alternatives."""
        return plan(inp, self._ctx.graph)
