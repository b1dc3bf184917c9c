"""The post-mortem's LLM engine: the model writes the narrative, the record keeps the facts.

The rules engine's draft is the base (timeline, impact, evidence, resolution all come from
the record). The model sees the record reduced to what a writer needs and returns a summary,
a root-cause narrative, contributing factors, lessons and action items; those replace the
draft's summary and are added to its sections. Action items must name one of the incident's
services (their owner comes from the catalog), cited evidence must exist, and model text is
escaped so it cannot add headings, tables or HTML.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.llm.accounting import Meter
from incidentflow.llm.engine import Ask, LlmEngine
from incidentflow.llm.guard import plain, unknown_ids
from incidentflow.models import ActionItem, IncidentRecord, PostMortem, ServiceGraph
from incidentflow.visible import visible

MAX_ITEMS = 5
_SECTION = re.compile(r"(?m)^## ")


class ActionItemAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=300)
    service: str


class PostmortemAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(max_length=2000)
    root_cause: str = Field(max_length=2000)
    contributing_factors: list[str] = Field(default_factory=list)
    lessons: list[str] = Field(default_factory=list)
    action_items: list[ActionItemAnswer] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)


async def draft_llm(
    engine: LlmEngine,
    record: IncidentRecord,
    rules: PostMortem,
    graph: ServiceGraph,
    meter: Meter,
    deadline: float | None,
) -> PostMortem:
    """The rules draft with the model's narrative merged in."""
    inc, inv = record.incident, record.investigation
    known = {e.id for e in inv.evidence} if inv else set()
    view = {
        "incident": {
            "id": inc.id,
            "title": inc.title,
            "severity": inc.severity.value,
            "services": inc.services,
            "origin_service": inc.origin_service,
            "opened_at": inc.opened_at.isoformat(),
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
            "state": record.state.value,
        },
        "root_cause": inv.top.model_dump(mode="json") if inv and inv.top else None,
        "evidence": [
            {"id": e.id, "kind": e.kind.value, "finding": e.finding}
            for e in (inv.evidence if inv else [])
        ],
        "plan": record.plan.rationale if record.plan else None,
        "action": record.plan.action.summary if record.plan and record.plan.action else None,
        "decision": record.approval.model_dump(mode="json") if record.approval else None,
        "verification": record.verification.detail if record.verification else None,
        "timeline": [
            f"{e.at.isoformat()} {e.kind.value} {e.actor}: {e.summary}" for e in record.timeline
        ],
    }

    def check(answer: PostmortemAnswer) -> list[str]:
        problems = unknown_ids(answer.evidence_ids, known, "evidence_ids")
        for n, item in enumerate(answer.action_items, start=1):
            if item.service not in inc.services:
                problems.append(
                    f"action item {n}: service {item.service!r} is not one of the incident's "
                    f"services ({', '.join(inc.services)})"
                )
        for name in ("contributing_factors", "lessons", "action_items"):
            if len(getattr(answer, name)) > MAX_ITEMS:
                problems.append(f"at most {MAX_ITEMS} {name.replace('_', ' ')}")
        return problems

    answer = await engine.ask(
        Ask(
            agent="postmortem", answer=PostmortemAnswer, data=view, check=check, incident_id=inc.id
        ),
        meter,
        deadline=deadline,
    )
    items = [
        ActionItem(text=plain(" ".join(i.text.split()), 300), owner=_owner(graph, i.service))
        for i in answer.action_items
    ]
    markdown = _merge(rules.markdown, answer, items, engine.config.model, len(rules.action_items))
    return rules.model_copy(
        update={
            "markdown": markdown,
            "root_cause": plain(" ".join(answer.root_cause.split()), 2000),
            "action_items": [*rules.action_items, *items],
        }
    )


def _merge(
    markdown: str,
    answer: PostmortemAnswer,
    items: list[ActionItem],
    model: str,
    numbered: int,
) -> str:
    """Replace the draft's summary and add to its root cause, factors, lessons and items."""
    starts = [m.start() for m in _SECTION.finditer(markdown)]
    head = markdown[: starts[0]] if starts else markdown
    sections = [markdown[a:b] for a, b in zip(starts, [*starts[1:], len(markdown)], strict=True)]
    out = [head]
    for section in sections:
        title = section.splitlines()[0][3:].strip()
        body = section.rstrip("\n")
        if title == "Summary":
            body = (
                f"## Summary\n\n{_para(answer.summary)}\n\n_Narrative drafted by the model "
                f"{_line(model, 80)}; every fact below comes from the incident's record._"
            )
        elif title == "Root causes" and answer.root_cause.strip():
            first, _, rest = body.partition("\n\n")
            body = f"{first}\n\n{_para(answer.root_cause)}\n\n{rest}"
        elif title.startswith("Trigger") and answer.contributing_factors:
            body = body.replace("\n- None recorded.", "")
            body += "".join(f"\n- {_line(f, 400)}" for f in answer.contributing_factors)
        elif title == "Lessons learned" and answer.lessons:
            body += "\n\n### Lessons (drafted)\n\n" + "\n".join(
                f"- {_line(x, 400)}" for x in answer.lessons
            )
        elif title == "Action items" and items:
            body += "".join(
                f"\n| {n} | {_cell(_escape(i.text))} | {_cell(i.owner)} |"
                for n, i in enumerate(items, start=numbered + 1)
            )
        out.append(body + "\n\n")
    return visible("".join(out).rstrip("\n") + "\n")


def _owner(graph: ServiceGraph, name: str) -> str:
    service = graph.get(name)
    return service.owner if service else "unowned"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _para(text: str) -> str:
    """Paragraphs kept; a line may not start a heading, a table or a fence."""
    lines = [_escape(plain(line, 2000)) for line in text.splitlines()]
    return "\n".join(re.sub(r"^\s*([#|`>])", r"\\\1", line) for line in lines).strip()


def _line(text: str, limit: int) -> str:
    return _escape(plain(" ".join(text.split()), limit))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
