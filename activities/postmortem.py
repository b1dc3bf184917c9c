"""Agent 5, post-mortem: draft Markdown from the incident's recorded history, write it to disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio import activity

from incidentflow.agents.postmortem import draft
from incidentflow.context import AgentContext
from incidentflow.models import PostMortem, PostmortemInput
from incidentflow.postmortems import write_postmortem


class PostmortemActivities:
    def __init__(self, ctx: AgentContext, *, out_dir: Path | None = None) -> None:
        self._ctx = ctx
        self._out = out_dir

    @activity.defn(name="draft_postmortem")
    async def draft_postmortem(self, inp: PostmortemInput) -> PostMortem:
        """Timeline, root cause, remediation and action items, for a person to edit."""
        pm = draft(inp.record, self._ctx.graph)
        if inp.write and self._out is not None:
            written = await asyncio.to_thread(write_postmortem, self._out, pm)
            activity.logger.info("post-mortem %s: %s", pm.incident_id, ", ".join(map(str, written)))
        return pm
