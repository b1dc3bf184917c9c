"""Agent 5, post-mortem: draft Markdown from the incident's recorded history, write it to disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio import activity

from incidentflow.agents.postmortem import draft
from incidentflow.context import AgentContext
from incidentflow.llm.postmortem import draft_llm
from incidentflow.llm.select import answer, given
from incidentflow.models import PostMortem, PostmortemInput
from incidentflow.postmortems import write_postmortem


class PostmortemActivities:
    def __init__(self, ctx: AgentContext, *, out_dir: Path | None = None) -> None:
        self._ctx = ctx
        self._out = out_dir

    @activity.defn(name="draft_postmortem")
    async def draft_postmortem(self, inp: PostmortemInput) -> PostMortem:
        """Timeline, root cause, remediation and action items, for a person to edit."""
        graph, llm = await self._ctx.graph_for(), self._ctx.llm
        pm = draft(inp.record, graph)
        if llm is not None and llm.enabled("postmortem"):
            rules = pm
            pm = await answer(
                llm,
                "postmortem",
                incident_id=inp.record.incident.id,
                llm=lambda meter, deadline: draft_llm(
                    llm, inp.record, rules, graph, meter, deadline
                ),
                rules=given(rules),
            )
        if inp.write and self._out is not None:
            written = await asyncio.to_thread(write_postmortem, self._out, pm)
            activity.logger.info("post-mortem %s: %s", pm.incident_id, ", ".join(map(str, written)))
        return pm
