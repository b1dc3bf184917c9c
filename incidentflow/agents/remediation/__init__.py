"""Agent 4, remediation planning (rules engine): the fix the evidence points at, or none.

`choice.py` maps the top hypothesis (its fault type, the change it cites, the signatures in
its evidence) to ranked catalog params; `changes.py` reads a recorded change back into the
params that revert it. This module turns them into actions the catalog writes (summary, risk,
verification, undo) and, when nothing fits, a plan with no action that says why, what a
person should check, and escalates. Never a restart fallback. Pure and deterministic: action
ids are hashes of the incident and the params.
"""

from __future__ import annotations

from incidentflow.agents.remediation.choice import MIN_CONFIDENCE, choose
from incidentflow.agents.sourcing import unsourced
from incidentflow.catalog import CATALOG
from incidentflow.models import (
    ActionParams,
    AlternativeReason,
    Hypothesis,
    Incident,
    Investigation,
    PlanInput,
    RemediationAction,
    RemediationPlan,
    ServiceGraph,
)

__all__ = [
    "MIN_CONFIDENCE",
    "allowed_targets",
    "alternative_reason",
    "executor_for",
    "labelled",
    "pick",
    "plan",
    "scoped",
    "target_problem",
]

# Long enough for a rollout to finish and for alert `for:` clauses to clear.
VERIFY_WINDOW_SECONDS = 600
MAX_ALTERNATIVES = 3


def plan(
    inp: PlanInput,
    graph: ServiceGraph,
    *,
    verify_window_seconds: int = VERIFY_WINDOW_SECONDS,
    executors: frozenset[str] = frozenset(),
) -> RemediationPlan:
    """The action the top hypothesis's evidence calls for, ranked alternatives, or none.

    `executors` are the real executors the remediation worker enables: each action names the
    one that will really run it (its catalog executor if enabled, else dry-run).
    """
    incident, investigation = inp.incident, inp.investigation
    top = investigation.top
    if top is not None and unsourced(investigation):
        return _nothing(
            incident,
            investigation,
            graph,
            [
                f"no evidence source answered ({investigation.status.value}): the ranking rests "
                f"on the alerts and the service graph only (top: {top.service}, confidence "
                f"{top.confidence:.2f})"
            ],
        )
    if top is None:
        return _nothing(
            incident,
            investigation,
            graph,
            [
                "investigation found no change, error or metric shift that points at a service "
                "(no hypothesis to act on)"
            ],
        )
    node = graph.get(top.service)
    choice = choose(top, investigation, frozenset(node.depends_on) if node else frozenset())
    if not choice.options:
        return _nothing(incident, investigation, graph, choice.reasons)
    options = choice.options[: 1 + MAX_ALTERNATIVES]
    actions = [
        _action(incident, option.params, n, graph, verify_window_seconds, executors)
        for n, option in enumerate(options, start=1)
    ]
    chosen = actions[0]
    cited = _cited(top, investigation)
    if choice.change is not None and choice.change.evidence_id not in cited:
        cited.append(choice.change.evidence_id)  # the change taken back is evidence too
    known = {e.id for e in investigation.evidence}
    # So are the capacity and node items the chosen action's numbers come from.
    cited += [i for i in options[0].cites if i in known and i not in cited]
    rationale = (
        f"Top hypothesis ({top.confidence:.2f}, {top.fault_type.value}): {top.cause}. "
        f"{chosen.summary} ({chosen.risk.value} risk) because {options[0].reason}. "
        f"Evidence: {', '.join(cited) or 'none cited'}. "
        f"Verify: {chosen.verify.description.rstrip('.')}."
    )
    if choice.reasons:
        rationale += f" Not proposed: {'; '.join(choice.reasons)}."
    if top.service != incident.origin_service and incident.origin_service:
        rationale += (
            f" Note: correlation's origin was {incident.origin_service}; investigation "
            f"points to {top.service}."
        )
    return RemediationPlan(
        incident_id=incident.id,
        action=chosen,
        alternatives=actions[1:],
        alternative_reasons=[
            AlternativeReason(action_id=a.id, reason=o.reason)
            for a, o in zip(actions[1:], options[1:], strict=True)
        ],
        rationale=rationale,
        evidence_ids=cited,
    )


def _nothing(
    incident: Incident, investigation: Investigation, graph: ServiceGraph, reasons: list[str]
) -> RemediationPlan:
    """No automatic action: why, what a person should check, and escalate."""
    checks: list[str] = []
    top = investigation.top
    for h in investigation.hypotheses[:3]:
        service = graph.get(h.service)
        if service is not None and service.runbook:
            checks.append(f"runbook for {h.service}: {service.runbook}")
    for e in investigation.evidence:
        if e.kind.value == "runbook" and e.link:
            checks.append(f"runbook: {e.link}")
    wanted = set(top.evidence_ids) if top else set()
    for e in investigation.evidence:
        if e.id in wanted:
            checks.append(f"{e.id}: {e.finding}" + (f" ({e.link})" if e.link else ""))
    if top is not None:
        checks.append(
            f"whether {top.service} is the cause ({top.fault_type.value}, confidence "
            f"{top.confidence:.2f}) and which fix fits; `incidentflow override` can give the "
            "params of a catalog action"
        )
    else:
        checks.append(f"the services of the incident: {', '.join(incident.services) or 'none'}")
    unique = list(dict.fromkeys(checks))
    return RemediationPlan(
        incident_id=incident.id,
        action=None,
        rationale=(
            f"No automatic action: {'; '.join(reasons) or 'nothing in the catalog fits'}; "
            "a person must decide (escalated)."
        ),
        evidence_ids=_cited(top, investigation) if top else [],
        checks=unique,
        escalate=True,
    )


def _action(
    incident: Incident,
    params: ActionParams,
    n: int,
    graph: ServiceGraph,
    window: int,
    executors: frozenset[str],
) -> RemediationAction:
    service = graph.get(getattr(params, "service", None) or "")
    return CATALOG.action(
        params,
        incident_id=incident.id,
        n=n,
        alerts=[a.name for a in incident.alerts],
        window_seconds=window,
        runbook=service.runbook if service else None,
        executor=executor_for(params, executors),
    )


def executor_for(
    params: ActionParams, enabled: frozenset[str], http_kinds: frozenset[str] = frozenset()
) -> str:
    """The executor that will really run `params`: dry-run when no real one is enabled; http
    for a kind with an http route; else its catalog executor (refused if not enabled)."""
    if not enabled:
        return "dry-run"
    if "http" in enabled and params.kind in http_kinds:
        return "http"
    return CATALOG.get(params.kind).executor


def allowed_targets(incident: Incident, investigation: Investigation) -> set[str]:
    """Services an action may touch: the incident's, and those a hypothesis cites evidence of."""
    by_id = {e.id: e for e in investigation.evidence}
    cited = {
        item.service
        for h in investigation.hypotheses
        for i in h.evidence_ids
        if (item := by_id.get(i)) is not None and item.service
    }
    own = set(incident.services) | ({incident.origin_service} if incident.origin_service else set())
    return own | cited


def target_problem(params: ActionParams, allowed: set[str]) -> str | None:
    """Why `params` may not be proposed for this incident, or None when its target is in scope."""
    service = getattr(params, "service", None)
    if not isinstance(service, str) or service in allowed:
        return None
    return (
        f"{params.kind} targets {service}, which is neither a service of the incident nor one "
        f"the investigation cited evidence of ({', '.join(sorted(allowed)) or 'none'})"
    )


def scoped(
    plan: RemediationPlan,
    incident: Incident,
    investigation: Investigation,
    graph: ServiceGraph | None = None,
) -> RemediationPlan:
    """`plan` with every action outside the incident refused (whichever engine proposed it).

    With the graph, a service the incident's services call directly is in scope too when
    the investigation holds an infra or config change of it: a NetworkPolicy or endpoint
    change on the far side of a failing call is the incident's to take back.
    """
    allowed = allowed_targets(incident, investigation)
    if graph is not None:
        changed = {
            e.service
            for e in investigation.evidence
            if e.kind.value == "change" and e.attributes.get("kind") in ("infra", "config")
        }
        allowed |= {d for s in set(allowed) for d in graph.dependencies(s) if d in changed}
    kept = [a for a in plan.alternatives if target_problem(a.params, allowed) is None]
    refused = plan.action and target_problem(plan.action.params, allowed)
    if not refused:
        return plan.model_copy(update={"alternatives": kept})
    return plan.model_copy(
        update={
            "action": None,
            "alternatives": kept,
            "rationale": f"Refused: {refused}. A person must decide. (Proposed: {plan.rationale})",
        }
    )


def _cited(top: Hypothesis, investigation: Investigation) -> list[str]:
    known = {e.id for e in investigation.evidence}
    return [i for i in top.evidence_ids if i in known]


def labelled(
    plan: RemediationPlan, executors: frozenset[str], http_kinds: frozenset[str] = frozenset()
) -> RemediationPlan:
    """`plan` with each action naming the executor that will really run it."""

    def one(action: RemediationAction) -> RemediationAction:
        name = executor_for(action.params, executors, http_kinds)
        return action.model_copy(update={"executor": name})

    return plan.model_copy(
        update={
            "action": one(plan.action) if plan.action else None,
            "alternatives": [one(a) for a in plan.alternatives],
        }
    )


def alternative_reason(plan: RemediationPlan, action_id: str) -> str:
    """Why the plan offers this alternative ('' when it does not say)."""
    return next((r.reason for r in plan.alternative_reasons if r.action_id == action_id), "")


def pick(plan: RemediationPlan, n: int, *, by: str) -> RemediationPlan:
    """The plan with alternative `n` (1-based) as its action, for an override; ValueError if none.

    The picked action is rebuilt from its params by the catalog, and the old action becomes
    an alternative, so the person's choice is validated exactly like any override.
    """
    if not 1 <= n <= len(plan.alternatives):
        raise ValueError(
            f"{plan.incident_id}'s plan has {len(plan.alternatives)} alternative(s); "
            f"there is no number {n}"
        )
    chosen = CATALOG.regenerate(plan.alternatives[n - 1])
    rest = [a for i, a in enumerate(plan.alternatives, start=1) if i != n]
    others = ([plan.action] if plan.action is not None else []) + rest
    reasons = [
        AlternativeReason(action_id=a.id, reason=alternative_reason(plan, a.id) or "the agent's")
        for a in others
    ]
    why = alternative_reason(plan, chosen.id)
    return plan.model_copy(
        update={
            "action": chosen,
            "alternatives": others[:MAX_ALTERNATIVES],
            "alternative_reasons": reasons[:MAX_ALTERNATIVES],
            "rationale": (
                f"{by} picked alternative {n}: {chosen.summary}"
                + (f" ({why})" if why else "")
                + f". The agent had proposed: {plan.rationale}"
            ),
            "escalate": False,
        }
    )
