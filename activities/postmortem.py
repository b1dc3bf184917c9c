"""Agent 5, post-mortem: draft Markdown from the incident's recorded history."""

from __future__ import annotations

from temporalio import activity

from incidentflow.agents.postmortem import draft
from incidentflow.context import AgentContext
from incidentflow.models import PostMortem, PostmortemInput


class PostmortemActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="draft_postmortem")
    async def draft_postmortem(self, inp: PostmortemInput) -> PostMortem:
        """Timeline, root cause, remediation and action items, for a person to edit."""
        return draft(inp.record, self._ctx.graph)
