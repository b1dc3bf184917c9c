"""Correlation's LLM engine: the model reviews each new incident's origin and title.

Grouping, joins to open incidents, duplicates and ids stay the rules engine's: they are
deterministic and the stream's index depends on them. For each new incident the model sees
its alerts and the dependency edges among its services, and may move the origin to another of
the incident's services (downstream explanations are recomputed over the graph) and give a
clearer title and explanation. Updates to open incidents and dropped alerts are unchanged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.agents.topology import symptom_of
from incidentflow.llm.accounting import Meter
from incidentflow.llm.engine import Ask, LlmEngine
from incidentflow.llm.guard import plain
from incidentflow.models import CorrelationInput, CorrelationResult, Incident, ServiceGraph

MAX_TITLE = 120
# Output tokens one review takes, roughly: more new incidents than this keep the rules' view.
TOKENS_PER_REVIEW = 150


class IncidentReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str
    origin_service: str
    title: str = Field(max_length=200)
    explanation: str = Field(max_length=600)


class CorrelationAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incidents: list[IncidentReview]


async def correlate_llm(
    engine: LlmEngine,
    inp: CorrelationInput,
    rules: CorrelationResult,
    graph: ServiceGraph,
    meter: Meter,
    deadline: float | None,
) -> CorrelationResult:
    """The rules' correlation with each new incident's origin and title reviewed."""
    limit = max(1, engine.config.max_output_tokens // TOKENS_PER_REVIEW)
    asked = rules.new_incidents[:limit]
    if len(rules.new_incidents) > limit:
        meter.truncated.append(
            f"input.incidents: kept the first {limit} of {len(rules.new_incidents)}: the output "
            "budget (INCIDENTFLOW_LLM_MAX_OUTPUT_TOKENS) holds that many reviews"
        )
    by_id = {inc.id: inc for inc in asked}
    services = {d.alert.fingerprint: d.service for d in inp.detections}
    view = {"incidents": [_incident_view(inc, graph) for inc in asked]}

    def check(answer: CorrelationAnswer) -> list[str]:
        return _problems(answer, by_id)

    answer = await engine.ask(
        Ask(agent="correlation", answer=CorrelationAnswer, data=view, check=check),
        meter,
        deadline=deadline,
    )
    reviews = {r.incident_id: r for r in answer.incidents}
    incidents = [
        _apply(inc, reviews[inc.id], services, graph) if inc.id in reviews else inc
        for inc in rules.new_incidents
    ]
    return rules.model_copy(update={"new_incidents": incidents})


def _incident_view(inc: Incident, graph: ServiceGraph) -> dict[str, object]:
    edges = [
        f"{s} -> {d}" for s in inc.services for d in graph.dependencies(s) if d in inc.services
    ]
    return {
        "incident_id": inc.id,
        "rules_title": inc.title,
        "rules_origin": inc.origin_service,
        "services": inc.services,
        "edges": edges,
        "alerts": [
            {
                "name": a.name,
                "service": a.labels.get("service"),
                "severity": a.labels.get("severity"),
                "starts_at": a.starts_at.isoformat(),
                "summary": a.summary,
            }
            for a in sorted(inc.alerts, key=lambda a: a.starts_at)
        ],
    }


def _problems(answer: CorrelationAnswer, by_id: dict[str, Incident]) -> list[str]:
    problems: list[str] = []
    for review in answer.incidents:
        inc = by_id.get(review.incident_id)
        if inc is None:
            problems.append(f"incident {review.incident_id!r} is not one of the new incidents")
            continue
        if review.origin_service not in inc.services:
            problems.append(
                f"{inc.id}: origin {review.origin_service!r} is not one of its services "
                f"({', '.join(inc.services)})"
            )
        if not review.title.strip():
            problems.append(f"{inc.id}: the title is empty")
    missing = sorted(set(by_id) - {r.incident_id for r in answer.incidents})
    if missing:
        problems.append(f"no review for {', '.join(missing)}: review every new incident")
    return problems


def _apply(
    inc: Incident,
    review: IncidentReview,
    services: dict[str, str | None],
    graph: ServiceGraph,
) -> Incident:
    origin = review.origin_service
    reasons = [*inc.reasons, f"llm: {plain(review.explanation, 600)}"]
    downstream = inc.downstream
    if origin != inc.origin_service:
        reasons.append(f"llm: origin moved from {inc.origin_service} to {origin}")
        downstream = [
            found
            for a in inc.alerts
            if (
                found := symptom_of(
                    a.fingerprint, a.name, services.get(a.fingerprint), origin, graph
                )
            )
            is not None
        ]
    ordered = sorted(inc.services, key=lambda s: (s != origin, s))
    return inc.model_copy(
        update={
            "origin_service": origin,
            "services": ordered,
            "downstream": downstream,
            "title": plain(review.title, MAX_TITLE),
            "reasons": reasons,
        }
    )
