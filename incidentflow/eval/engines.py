"""Which engine answered each agent of an eval case, and what the model cost.

`incidentflow eval --engine llm` runs the bundles with every agent on the configured model;
this reads back, per incident record, which engine produced detection, investigation and the
plan (a fallback to rules carries its reason) and the tokens spent, so a model is compared
with the rules engines on the same bundles.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.llm.accounting import incident_usage
from incidentflow.models import Engine, IncidentRecord


class EngineReport(BaseModel):
    """Per case: answers by engine, fallbacks with reasons, and the model's cost."""

    model_config = ConfigDict(frozen=True)

    answers: dict[str, int] = Field(default_factory=dict, description="'agent:engine' -> count")
    fallbacks: list[str] = Field(default_factory=list)
    llm_calls: int = 0
    llm_tokens: int = 0
    llm_ms: int = 0


def engine_report(records: list[IncidentRecord]) -> EngineReport:
    """Engines and usage over the incidents of one case (up to each plan)."""
    answers: dict[str, int] = {}
    fallbacks: list[str] = []
    calls = tokens = ms = 0
    for record in records:
        if record.detections:
            engine = "llm" if all(d.engine is Engine.LLM for d in record.detections) else "rules"
            key = f"detection:{engine}"
            answers[key] = answers.get(key, 0) + 1
        for agent, artifact in (("investigation", record.investigation), ("plan", record.plan)):
            if artifact is None:
                continue
            key = f"{agent}:{artifact.engine.value}"
            answers[key] = answers.get(key, 0) + 1
            if artifact.engine_reason:
                fallbacks.append(f"{record.incident.id} {agent}: {artifact.engine_reason[:200]}")
        total = incident_usage(record).get("total")
        if total is not None:
            calls += total.calls
            tokens += total.total_tokens
            ms += total.latency_ms
    return EngineReport(
        answers=answers, fallbacks=fallbacks, llm_calls=calls, llm_tokens=tokens, llm_ms=ms
    )
