"""Calls, tokens and latency per agent (`Meter`) and per incident (`incident_usage`).

A meter belongs to one agent answering once; its `usage()` goes on the artifact, whichever
engine answered. Each model call and tool call is also an OpenTelemetry span (client, tools).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from incidentflow.models import IncidentRecord, LlmUsage

if TYPE_CHECKING:  # the client imports `openai`; `show` reads usage without it
    from incidentflow.llm.client import Reply

log = logging.getLogger("incidentflow.llm")


@dataclass
class Meter:
    """What one agent spends on one artifact; mutable while the agent works."""

    agent: str
    model: str
    incident_id: str | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    repairs: int = 0
    tool_calls: int = 0
    refused: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def add(self, reply: Reply) -> None:
        """Count one completion."""
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.latency_ms += reply.latency_ms

    def usage(self) -> LlmUsage:
        """The frozen record for the artifact."""
        return LlmUsage(
            agent=self.agent,
            model=self.model,
            incident_id=self.incident_id,
            calls=self.calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_ms=self.latency_ms,
            repairs=self.repairs,
            tool_calls=self.tool_calls,
            # Problems may quote what the model wrote: keep the record small whatever it wrote.
            refused=[p[:300] for p in self.refused[:20]],
            truncated=[t[:300] for t in self.truncated[:20]],
        )

    def report(self, engine: str, reason: str = "") -> None:
        """One log line per answer: who answered, at what cost (never the prompt or the key)."""
        log.info(
            "llm %s for %s answered by %s: %d call(s), %d+%d tokens, %d ms, %d tool call(s), "
            "%d repair(s)%s",
            self.agent,
            self.incident_id or "batch",
            engine,
            self.calls,
            self.prompt_tokens,
            self.completion_tokens,
            self.latency_ms,
            self.tool_calls,
            self.repairs,
            f"; {reason}" if reason else "",
        )


def incident_usage(record: IncidentRecord) -> dict[str, LlmUsage]:
    """Usage per agent for one incident, plus `total`; empty when no model was asked."""
    parts = [
        a.llm_usage
        for a in (record.investigation, record.plan, record.postmortem)
        if a is not None and a.llm_usage is not None
    ]
    if not parts:
        return {}
    out = {u.agent: u for u in parts}
    out["total"] = LlmUsage(
        agent="total",
        model=",".join(sorted({u.model for u in parts})),
        incident_id=record.incident.id,
        calls=sum(u.calls for u in parts),
        prompt_tokens=sum(u.prompt_tokens for u in parts),
        completion_tokens=sum(u.completion_tokens for u in parts),
        latency_ms=sum(u.latency_ms for u in parts),
        repairs=sum(u.repairs for u in parts),
        tool_calls=sum(u.tool_calls for u in parts),
    )
    return out
