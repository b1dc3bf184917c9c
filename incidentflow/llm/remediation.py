"""Remediation planning's LLM engine: the model picks a catalog action and fills its params.

The model can never add an action. It names a catalog `kind` and typed params (the params
models forbid unknown fields, so a `command` goes nowhere); risk, verification, undo and
executor come from the catalog. Params must come from the evidence: a rollback from a change
item's after-version to its before-version, a service the incident or the investigation
names, flags, targets and scripts that appear in the evidence, runbook arguments that are
plain tokens. Anything else is refused.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.agents.remediation import allowed_targets, target_problem
from incidentflow.agents.remediation.changes import Change, revert
from incidentflow.catalog import CATALOG
from incidentflow.llm.accounting import Meter
from incidentflow.llm.engine import Ask, LlmEngine
from incidentflow.llm.guard import plain, unknown_ids
from incidentflow.models import (
    SCHEMA_VERSION,
    ActionParams,
    ConfigRevertParams,
    DrainParams,
    Evidence,
    EvidenceKind,
    FailoverParams,
    FeatureFlagParams,
    HpaBoundsParams,
    Incident,
    InfraRevertParams,
    NodeDrainParams,
    PlanInput,
    RemediationAction,
    RemediationPlan,
    ResourcesParams,
    RollbackParams,
    RunbookScriptParams,
    ScaleParams,
    ServiceGraph,
)

# Up to three alternatives, ranked (issue 18).
MAX_ALTERNATIVES = 3
# Scaling beyond this factor of the current replicas is a capacity decision for a person.
MAX_SCALE_FACTOR = 2
MAX_REPLICAS = 100
_ARG_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
_ARG_VALUE = re.compile(r"^[A-Za-z0-9_.:/@=+-]{0,64}$")


class RemediationAnswer(BaseModel):
    """The model's part of a `RemediationPlan`: catalog params, never a whole action."""

    model_config = ConfigDict(extra="forbid")

    action: ActionParams | None = Field(description="Catalog params, or null for no action")
    alternatives: list[ActionParams] = Field(default_factory=list)
    rationale: str = Field(max_length=2000)
    evidence_ids: list[str] = Field(default_factory=list)


def catalog_text() -> str:
    """The catalog as the prompt lists it: kind, risk and params per registered kind."""
    lines = []
    for name in CATALOG.names():
        if name == "noop":
            continue
        kind = CATALOG.get(name)
        props = kind.params.model_json_schema().get("properties", {})
        fields = ", ".join(
            f"{k}: {v.get('type', 'value')}"
            for k, v in props.items()
            if k not in ("kind", "schema_version")
        )
        lines.append(f"- `{name}` (risk {kind.risk.value}): {fields}")
    return "\n".join(lines)


async def plan_llm(
    engine: LlmEngine,
    inp: PlanInput,
    graph: ServiceGraph,
    meter: Meter,
    deadline: float | None,
    *,
    verify_window_seconds: int,
) -> RemediationPlan:
    """A plan whose action the model chose from the catalog, checked against the evidence."""
    incident, inv = inp.incident, inp.investigation
    view = {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "origin_service": incident.origin_service,
            "services": incident.services,
            "alerts": sorted({a.name for a in incident.alerts}),
        },
        "hypotheses": [
            h.model_dump(mode="json", exclude={"schema_version"}) for h in inv.hypotheses
        ],
        "evidence": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "service": e.service,
                "finding": e.finding,
                "attributes": e.attributes,
            }
            for e in inv.evidence
        ],
    }
    allowed = allowed_targets(incident, inv)

    def check(answer: RemediationAnswer) -> list[str]:
        return _problems(answer, inv.evidence, allowed, graph)

    answer = await engine.ask(
        Ask(
            agent="remediation",
            answer=RemediationAnswer,
            data=view,
            check=check,
            incident_id=incident.id,
            values={"catalog": catalog_text()},
        ),
        meter,
        deadline=deadline,
    )
    # The schema version is ours to set, whatever the model wrote there.
    chosen = [
        p.model_copy(update={"schema_version": SCHEMA_VERSION})
        for p in [answer.action, *answer.alternatives]
        if p is not None
    ]
    actions = [
        _action(incident, params, n, graph, verify_window_seconds)
        for n, params in enumerate(chosen, start=1)
    ]
    return RemediationPlan(
        incident_id=incident.id,
        action=actions[0] if answer.action is not None else None,
        alternatives=actions[1:] if answer.action is not None else actions,
        rationale=plain(answer.rationale, 2000),
        evidence_ids=list(dict.fromkeys(answer.evidence_ids)),
        # No action from the model: a person decides, as with the rules engine.
        escalate=answer.action is None,
    )


def _problems(
    answer: RemediationAnswer, evidence: list[Evidence], allowed: set[str], graph: ServiceGraph
) -> list[str]:
    problems = unknown_ids(answer.evidence_ids, {e.id for e in evidence}, "evidence_ids")
    if len(answer.alternatives) > MAX_ALTERNATIVES:
        problems.append(f"at most {MAX_ALTERNATIVES} alternatives")
    picks = [
        ("action", answer.action),
        *((f"alternatives[{i}]", p) for i, p in enumerate(answer.alternatives)),
    ]
    for where, params in picks:
        if params is not None:
            problems += [f"{where}: {p}" for p in params_problems(params, evidence, allowed, graph)]
    return problems


def params_problems(
    params: ActionParams, evidence: list[Evidence], allowed: set[str], graph: ServiceGraph
) -> list[str]:
    """Why these params may not be proposed for this incident; [] when they may."""
    if params.kind == "noop" or params.kind not in CATALOG.names():
        return [f"kind {params.kind!r} is not an action of the catalog; use null for no action"]
    problems: list[str] = list(CATALOG.get(params.kind).limits(params))
    refused = target_problem(params, allowed)
    if refused is not None:
        problems.append(refused)
    text = _evidence_text(evidence)
    if isinstance(params, RollbackParams) and not any(
        e.kind is EvidenceKind.CHANGE
        and e.service == params.service
        and e.attributes.get("after") == params.from_version
        and e.attributes.get("before") == params.to_version
        for e in evidence
    ):
        problems.append(
            f"no change item of {params.service} goes from {params.to_version} to "
            f"{params.from_version}: roll back from a change's after to its before version"
        )
    if isinstance(params, ScaleParams) and not (
        params.from_replicas >= 1
        and params.to_replicas != params.from_replicas
        and 1 <= params.to_replicas <= min(MAX_REPLICAS, params.from_replicas * MAX_SCALE_FACTOR)
    ):
        problems.append(
            f"scale between 1 and {MAX_SCALE_FACTOR}x the current replicas "
            f"(at most {MAX_REPLICAS}), to a different count"
        )
    if isinstance(params, ConfigRevertParams | InfraRevertParams) and not any(
        revert(change)[0] == params for change in _changes(evidence)
    ):
        problems.append(
            f"{params.kind} must take back a recorded change exactly as the change item says "
            "(the value or manifest before it)"
        )
    if isinstance(params, NodeDrainParams) and not _named(params.node, text):
        problems.append(f"node {params.node!r} does not appear in the evidence")
    if isinstance(params, FeatureFlagParams) and not _named(params.flag, text):
        problems.append(f"flag {params.flag!r} does not appear in the evidence")
    if isinstance(params, DrainParams) and not _named(params.target, text):
        problems.append(f"target {params.target!r} does not appear in the evidence")
    if isinstance(params, FailoverParams):
        for target in (params.from_target, params.to_target):
            if not _named(target, text):
                problems.append(f"target {target!r} does not appear in the evidence")
    if isinstance(params, RunbookScriptParams):
        problems += _script_problems(params, evidence)
    if isinstance(params, ResourcesParams | HpaBoundsParams | ScaleParams):
        problems += _capacity_problems(params, evidence)
    return problems


def _capacity_problems(
    params: ResourcesParams | HpaBoundsParams | ScaleParams, evidence: list[Evidence]
) -> list[str]:
    """Current limits, bounds and replicas come from the capacity item, never a guess."""
    cap = next(
        (
            e
            for e in evidence
            if e.kind is EvidenceKind.CAPACITY
            and params.service in (e.service, e.attributes.get("hpa"))
        ),
        None,
    )
    if cap is None:
        if isinstance(params, ScaleParams):
            return []  # no recorded replicas: the executor reads them and the approver sees both
        return [
            f"{params.kind} needs {params.service}'s current values: no capacity item "
            f"(ev-capacity-{params.service}) of it in the evidence"
        ]
    a = cap.attributes
    if isinstance(params, ResourcesParams):
        limit = a.get(f"{params.resource}_limit")
        now = (a.get(f"{params.resource}_request") or limit, limit)
        if limit is None or (params.from_request, params.from_limit) != now:
            return [
                f"resources must start from {cap.id}'s {params.resource} request and limit "
                f"({now[0] or 'unset'}, {now[1] or 'unset'})"
            ]
    elif isinstance(params, HpaBoundsParams):
        if (str(params.from_min), str(params.from_max)) != (a.get("hpa_min"), a.get("hpa_max")):
            return [f"hpa_bounds must start from the HPA's bounds in {cap.id}"]
    elif str(params.from_replicas) != a.get("replicas"):
        return [f"scale must start from the replicas in {cap.id} ({a.get('replicas')})"]
    return []


def _script_problems(params: RunbookScriptParams, evidence: list[Evidence]) -> list[str]:
    books = _evidence_text([e for e in evidence if e.kind is EvidenceKind.RUNBOOK])
    problems = [
        f"script {name!r} is not named by a runbook in the evidence"
        for name in (params.script, params.undo_script)
        if name is not None and not _named(name, books)
    ]
    for key, value in params.args.items():
        if not _ARG_KEY.match(key) or (isinstance(value, str) and not _ARG_VALUE.match(value)):
            problems.append(
                f"runbook argument {key}={value!r} is not a plain token (letters, digits, "
                "_.:/@=+-, at most 64 characters)"
            )
    return problems


def _changes(evidence: list[Evidence]) -> list[Change]:
    return [
        Change(
            evidence_id=e.id,
            change_id=e.attributes.get("change_id", e.id),
            service=e.service or "",
            kind=e.attributes.get("kind", ""),
            before=e.attributes["before"],
            after=e.attributes["after"],
        )
        for e in evidence
        if e.kind is EvidenceKind.CHANGE and "before" in e.attributes and "after" in e.attributes
    ]


def _evidence_text(evidence: list[Evidence]) -> str:
    return "\n".join(" ".join([e.finding, e.link or "", *e.attributes.values()]) for e in evidence)


def _named(value: str, text: str) -> bool:
    return (
        len(value) >= 2 and re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None
    )


def _action(
    incident: Incident, params: ActionParams, n: int, graph: ServiceGraph, window: int
) -> RemediationAction:
    """A catalog action: risk, undo and verification from the catalog, never from the model."""
    service = graph.get(getattr(params, "service", None) or "")
    action = CATALOG.action(
        params,
        incident_id=incident.id,
        n=n,
        alerts=[a.name for a in incident.alerts],
        window_seconds=window,
        runbook=service.runbook if service else None,
    )
    found = CATALOG.problems(action)
    if found:  # the catalog built it, so this is a bug in the catalog, not the model
        raise ValueError(f"catalog action does not match the catalog: {found}")
    return action
