"""Investigation's LLM engine: the model reads evidence with tools, then ranks hypotheses.

The model starts from the incident alone (alerts, services, origin, the dependency edges) and
gathers evidence with the read-only tools in `incidentflow.llm.tools`, within
INCIDENTFLOW_LLM_TOOL_STEPS calls. With no tool steps (a server without tool calling), the
evidence the rules engine read is given in the data instead. The answer is checked: every
cited id must be an evidence item the model was given, services must be in the graph, a blamed
change must be a change item of that service, at most five hypotheses. The artifact holds
that evidence, cited items first.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.agents.investigation import InvestigationConfig, investigate, window_of
from incidentflow.agents.topology import dependencies_within
from incidentflow.evidence import EvidenceSource
from incidentflow.llm import prompts
from incidentflow.llm.accounting import Meter
from incidentflow.llm.engine import Ask, LlmEngine
from incidentflow.llm.guard import plain, unknown_ids
from incidentflow.llm.tools import EvidenceTools
from incidentflow.models import (
    SCHEMA_VERSION,
    Evidence,
    EvidenceKind,
    Hypothesis,
    Investigation,
    InvestigationInput,
    RejectedHypothesis,
    ServiceGraph,
)

MAX_HYPOTHESES = 5
MAX_EVIDENCE = 60
MAX_TEXT = 600


class InvestigationAnswer(BaseModel):
    """The model's part of an `Investigation`: the evidence comes from its tool calls."""

    model_config = ConfigDict(extra="forbid")

    hypotheses: list[Hypothesis] = Field(description="Ranked, most likely first")
    rejected: list[RejectedHypothesis] = Field(default_factory=list)
    summary: str = Field(max_length=2000)


async def investigate_llm(
    engine: LlmEngine,
    inp: InvestigationInput,
    graph: ServiceGraph,
    evidence: EvidenceSource,
    config: InvestigationConfig,
    meter: Meter,
    deadline: float | None,
) -> Investigation:
    """An investigation whose hypotheses the model wrote from evidence its tools read."""
    incident = inp.incident
    tools = EvidenceTools(
        incident=incident,
        graph=graph,
        source=evidence.aligned(incident.alerts),
        window=window_of(incident, config),
        config=config,
        redactor=engine.redactor,
        services=candidates(incident.services, graph, config.hops),
    )
    reach = candidates(incident.services, graph, config.hops)
    edges = [f"{s} -> {d}" for s in sorted(reach) for d in graph.dependencies(s) if d in reach]
    view = {
        "incident_id": incident.id,
        "title": incident.title,
        "severity": incident.severity.value,
        "origin_service": incident.origin_service,
        "services": incident.services,
        "opened_at": incident.opened_at.isoformat(),
        "alerts": [
            {
                "name": a.name,
                "service": a.labels.get("service"),
                "status": a.status.value,
                "starts_at": a.starts_at.isoformat(),
                "labels": a.labels,
                "annotations": a.annotations,
            }
            for a in sorted(incident.alerts, key=lambda a: a.starts_at)
        ],
        "graph_edges": edges,
    }

    fragments = prompts.load("investigation").fragments
    if engine.config.tool_steps > 0:
        how = prompts.render(
            fragments["tools"],
            steps=str(engine.config.tool_steps),
            tools=", ".join(s["function"]["name"] for s in tools.specs()),
        )
    else:
        # No tool calling: the model reasons over what the rules engine read.
        seeded = await asyncio.to_thread(investigate, inp, graph, evidence, config)
        tools.evidence.update({e.id: e for e in seeded.evidence})
        view["evidence"] = [
            {
                "id": e.id,
                "kind": e.kind.value,
                "service": e.service,
                "finding": e.finding,
                "attributes": e.attributes,
            }
            for e in seeded.evidence
        ]
        how = fragments["evidence"]

    def check(answer: InvestigationAnswer) -> list[str]:
        return _problems(answer, tools.evidence, graph)

    answer = await engine.ask(
        Ask(
            agent="investigation",
            answer=InvestigationAnswer,
            data=view,
            check=check,
            incident_id=incident.id,
            values={"evidence_how": how},
        ),
        meter,
        deadline=deadline,
        tools=tools if engine.config.tool_steps > 0 else None,
    )
    hypotheses = sorted((_clean(h) for h in answer.hypotheses), key=lambda h: -h.confidence)
    rejected = [
        r.model_copy(update={"reason": plain(r.reason, MAX_TEXT), "schema_version": SCHEMA_VERSION})
        for r in answer.rejected
    ]
    return Investigation(
        incident_id=incident.id,
        hypotheses=hypotheses,
        rejected=rejected,
        evidence=_evidence(tools.evidence, hypotheses, rejected),
        summary=plain(answer.summary, 2000),
    )


def candidates(services: list[str], graph: ServiceGraph, hops: int) -> set[str]:
    """The incident's services and what they call within `hops`: where a cause may hide."""
    return {d for s in services for d in dependencies_within(graph, s, hops)} | set(services)


def _problems(
    answer: InvestigationAnswer, items: dict[str, Evidence], graph: ServiceGraph
) -> list[str]:
    known = set(items)
    problems: list[str] = []
    if len(answer.hypotheses) > MAX_HYPOTHESES:
        problems.append(f"at most {MAX_HYPOTHESES} hypotheses")
    if not known and answer.hypotheses:
        problems.append("no evidence was read: call the tools before proposing hypotheses")
    for n, h in enumerate(answer.hypotheses, start=1):
        where = f"hypothesis {n}"
        if graph.get(h.service) is None:
            problems.append(f"{where}: service {h.service!r} is not in the service graph")
        if not h.evidence_ids:
            problems.append(f"{where}: cite at least one evidence id")
        problems += unknown_ids([*h.evidence_ids, *h.contradicting_ids], known, where)
        if h.change_id is not None and not any(
            e.kind is EvidenceKind.CHANGE
            and e.attributes.get("change_id") == h.change_id
            and e.service == h.service
            for e in items.values()
        ):
            problems.append(
                f"{where}: change_id {h.change_id!r} is not a change of {h.service} that a "
                "tool returned"
            )
    for n, r in enumerate(answer.rejected, start=1):
        if graph.get(r.service) is None:
            problems.append(f"rejected {n}: service {r.service!r} is not in the service graph")
        problems += unknown_ids(r.evidence_ids, known, f"rejected {n}")
    return problems


def _clean(h: Hypothesis) -> Hypothesis:
    # The schema version is ours to set, whatever the model wrote there.
    return h.model_copy(
        update={"cause": plain(h.cause, MAX_TEXT), "schema_version": SCHEMA_VERSION}
    )


def _evidence(
    items: dict[str, Evidence],
    hypotheses: list[Hypothesis],
    rejected: list[RejectedHypothesis],
) -> list[Evidence]:
    """Cited items first (weighted by the strongest hypothesis citing them), then the rest."""
    weight: dict[str, float] = {}
    for h in hypotheses:
        for i in h.evidence_ids:
            weight[i] = max(weight.get(i, 0.0), h.confidence)
    cited = [i for h in hypotheses for i in (*h.evidence_ids, *h.contradicting_ids)]
    cited += [i for r in rejected for i in r.evidence_ids]
    order = list(dict.fromkeys([*cited, *items]))
    out = []
    for i in order[:MAX_EVIDENCE]:
        item = items[i]
        if i in weight:
            item = item.model_copy(update={"weight": round(max(item.weight, weight[i]), 2)})
        out.append(item)
    return out
