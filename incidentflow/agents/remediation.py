"""Agent 4, remediation planning (rules engine): one reversible action from the catalog.

The plan names a typed action, how to verify it helped and how to undo it; executors turn it
into operations later, so nothing here is a command line. Pure and deterministic: action ids
are hashes of the incident, the action kind and its target.
"""

from __future__ import annotations

from incidentflow.agents.common import short_hash
from incidentflow.agents.sourcing import unsourced
from incidentflow.catalog import CATALOG
from incidentflow.models import (
    ActionParams,
    FaultType,
    Hypothesis,
    Incident,
    Investigation,
    PlanInput,
    RemediationAction,
    RemediationPlan,
    RestartParams,
    Risk,
    RollbackParams,
    ScaleParams,
    ServiceGraph,
    VerifySpec,
)

# Long enough for a rollout to finish and for alert `for:` clauses to clear.
VERIFY_WINDOW_SECONDS = 600
# Scaling out buys headroom while someone looks; double, but keep it modest.
SCALE_FROM, SCALE_TO = 3, 6
# Faults a fresh process tends to clear (leaked memory, stuck pools, a wedged client).
RESTART_HELPS = frozenset(
    {FaultType.RESOURCE_EXHAUSTION, FaultType.CODE_EXCEPTION, FaultType.UNKNOWN}
)


def plan(
    inp: PlanInput,
    graph: ServiceGraph,
    *,
    verify_window_seconds: int = VERIFY_WINDOW_SECONDS,
    executors: frozenset[str] = frozenset(),
) -> RemediationPlan:
    """A specific action for the top hypothesis, with alternatives; none without a hypothesis.

    `executors` are the real executors the remediation worker enables: each action names the
    one that will really run it (its catalog executor if enabled, else dry-run).
    """
    incident, investigation = inp.incident, inp.investigation
    top = investigation.top
    if top is not None and unsourced(investigation):
        return RemediationPlan(
            incident_id=incident.id,
            action=None,
            rationale=(
                f"No evidence source answered ({investigation.status.value}): the ranking rests "
                f"on the alerts and the service graph only (top: {top.service}, confidence "
                f"{top.confidence:.2f}). Nothing is proposed to run; a person must decide."
            ),
        )
    if top is None:
        return RemediationPlan(
            incident_id=incident.id,
            action=None,
            rationale=(
                "No hypothesis to act on: investigation found no change, error or metric "
                "shift that points at a service. A person should look before anything runs."
            ),
        )
    options = _options(top, investigation)
    actions = [
        _action(incident, params, risk, n, top, graph, verify_window_seconds, executors)
        for n, (params, risk) in enumerate(options, start=1)
    ]
    chosen = actions[0]
    cited = _cited(top, investigation)
    rationale = (
        f"Top hypothesis ({top.confidence:.2f}, {top.fault_type.value}): {top.cause}. "
        f"{chosen.summary} ({chosen.risk.value} risk) because {_why(top)}. "
        f"Evidence: {', '.join(cited)}. Verify: {chosen.verify.description.rstrip('.')}."
    )
    if top.service != incident.origin_service and incident.origin_service:
        rationale += (
            f" Note: correlation's origin was {incident.origin_service}; investigation "
            f"points to {top.service}."
        )
    return RemediationPlan(
        incident_id=incident.id,
        action=chosen,
        alternatives=actions[1:],
        rationale=rationale,
        evidence_ids=cited,
    )


def _options(top: Hypothesis, investigation: Investigation) -> list[tuple[ActionParams, Risk]]:
    """Catalog actions for the fault, best first."""
    svc = top.service
    restart: tuple[ActionParams, Risk] = (RestartParams(service=svc), Risk.LOW)
    scale: tuple[ActionParams, Risk] = (
        ScaleParams(service=svc, from_replicas=SCALE_FROM, to_replicas=SCALE_TO),
        Risk.MEDIUM,
    )
    change = _change_attributes(top, investigation)
    if top.fault_type is FaultType.BAD_DEPLOY and change is not None:
        rollback: tuple[ActionParams, Risk] = (
            RollbackParams(service=svc, from_version=change["after"], to_version=change["before"]),
            Risk.MEDIUM,
        )
        return [rollback, restart]
    if top.fault_type is FaultType.TRAFFIC_SURGE:
        return [scale, restart]
    if top.fault_type in RESTART_HELPS:
        return [restart, scale]
    # Config changes, network, expiry and dependency faults: a restart is the safe first
    # step the catalog offers; the config revert itself is for a person until it has a kind.
    return [restart, scale]


def _change_attributes(top: Hypothesis, investigation: Investigation) -> dict[str, str] | None:
    if top.change_id is None:
        return None
    for item in investigation.evidence:
        attrs = item.attributes
        if attrs.get("change_id") == top.change_id and "before" in attrs and "after" in attrs:
            return attrs
    return None


def _action(
    incident: Incident,
    params: ActionParams,
    risk: Risk,
    n: int,
    top: Hypothesis,
    graph: ServiceGraph,
    window: int,
    executors: frozenset[str],
) -> RemediationAction:
    short = incident.id.rsplit("-", 1)[-1]
    # The digest keeps ids of different actions apart: the executor's ledger runs an id once.
    digest = short_hash(incident.id, params.model_dump_json(), length=4)
    svc = top.service
    service = graph.get(svc)
    runbook = f" Runbook: {service.runbook}." if service and service.runbook else ""
    alerts = ", ".join(sorted({a.name for a in incident.alerts}))
    verify = VerifySpec(
        window_seconds=window,
        description=(
            f"All alerts of {incident.id} ({alerts}) resolve within "
            f"{_span(window)} of the action.{runbook}"
        ),
    )
    summary, undo, undo_summary = CATALOG.describe(params)
    return RemediationAction(
        id=f"act-{short}-{n}-{digest}",
        incident_id=incident.id,
        params=params,
        risk=risk,
        summary=summary,
        verify=verify,
        undo=undo,
        undo_summary=undo_summary,
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
    plan: RemediationPlan, incident: Incident, investigation: Investigation
) -> RemediationPlan:
    """`plan` with every action outside the incident refused (whichever engine proposed it)."""
    allowed = allowed_targets(incident, investigation)
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


def _span(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _why(top: Hypothesis) -> str:
    reasons = {
        FaultType.BAD_DEPLOY: "the failures began right after a deploy and name the new version",
        FaultType.TRAFFIC_SURGE: "more replicas absorb the extra load while it lasts",
        FaultType.RESOURCE_EXHAUSTION: "a fresh process releases exhausted resources",
        FaultType.CODE_EXCEPTION: "a restart clears a wedged process while a fix is made",
    }
    return reasons.get(top.fault_type, "it is the lowest-risk action that may restore service")


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
