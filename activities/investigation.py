"""Agent 3, investigation: rank root-cause hypotheses with cited evidence."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from incidentflow.agents.investigation import investigate
from incidentflow.agents.sourcing import account
from incidentflow.context import AgentContext
from incidentflow.errors import ConfigError
from incidentflow.evidence import EvidenceSource
from incidentflow.llm.investigation import investigate_llm
from incidentflow.llm.select import answer
from incidentflow.models import Investigation, InvestigationInput, ServiceGraph
from incidentflow.sources.guarded import SourceLedger, guarded

# Heartbeat well inside the workflow's heartbeat timeout so a dead worker is noticed fast.
HEARTBEAT_EVERY_S = 1.0


class InvestigationActivities:
    def __init__(self, ctx: AgentContext) -> None:
        self._ctx = ctx

    @activity.defn(name="investigate")
    async def investigate(self, inp: InvestigationInput) -> Investigation:
        """Walk changes, logs and metrics around the incident; propose a root cause."""
        activity.heartbeat("investigating")
        ctx = self._ctx
        # A fresh ledger per attempt: each source that errors is recorded and left out.
        ledger = SourceLedger()
        source = guarded(ctx.sources, ledger)
        llm = ctx.llm
        graph = await ctx.graph_for(inp.incident.alerts)
        if llm is not None and llm.enabled("investigation"):
            work = answer(
                llm,
                "investigation",
                incident_id=inp.incident.id,
                llm=lambda meter, deadline: investigate_llm(
                    llm, inp, graph, source, ctx.investigation, meter, deadline
                ),
                rules=lambda: self._rules(inp, graph, source),
            )
        else:
            work = self._rules(inp, graph, source)
        try:
            found = await _heartbeating(work)
        except ConfigError as err:
            # A wrong URL, template or token will not fix itself on retry: fail fast, and the
            # incident parks for a person with the setting named.
            raise ApplicationError(
                f"{inp.incident.id}: investigation cannot read its evidence: {err}",
                type="ConfigError",
                non_retryable=True,
            ) from err
        return account(found, ledger.reports([s.name for s in ctx.sources]))

    async def _rules(
        self, inp: InvestigationInput, graph: ServiceGraph, source: EvidenceSource
    ) -> Investigation:
        # Live sources (Prometheus, Loki, kubectl) block: keep them off the worker's event loop.
        return await asyncio.to_thread(investigate, inp, graph, source, self._ctx.investigation)


async def _heartbeating(work: Coroutine[Any, Any, Investigation]) -> Investigation:
    """Await `work`, heartbeating so a slow evidence source is not taken for a dead worker."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
        if done:
            return task.result()
        activity.heartbeat("investigating: waiting for evidence sources")
