"""Agent 3, investigation: rank root-cause hypotheses with cited evidence."""

from __future__ import annotations

import asyncio

from temporalio import activity

from incidentflow.agents.investigation import investigate
from incidentflow.context import AgentContext
from incidentflow.models import Investigation, InvestigationInput

# Heartbeat well inside the workflow's heartbeat timeout so a dead worker is noticed fast.
HEARTBEAT_EVERY_S = 1.0


class InvestigationActivities:
    def __init__(self, ctx: AgentContext, *, drill_delay_seconds: float = 0.0) -> None:
        self._ctx = ctx
        # A chaos drill: hold the activity open so a person (or a test) can kill the worker.
        self._drill_delay = drill_delay_seconds

    @activity.defn(name="investigate")
    async def investigate(self, inp: InvestigationInput) -> Investigation:
        """Walk changes, logs and metrics around the incident; propose a root cause."""
        waited = 0.0
        while waited < self._drill_delay:
            activity.heartbeat(f"drill delay {waited:.0f}/{self._drill_delay:.0f}s")
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            waited += HEARTBEAT_EVERY_S
        activity.heartbeat("investigating")
        return investigate(inp, self._ctx.graph, self._ctx.evidence)
