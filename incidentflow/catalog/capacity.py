"""Kinds that change capacity or placement: restart, scale, resources, HPA bounds, nodes, traffic.

Changes of size are bounded here, not by whoever proposes them: more than `MAX_FACTOR` times
the current value is capacity planning for a person, not an incident action.
"""

from __future__ import annotations

from incidentflow.catalog import quantity
from incidentflow.catalog.registry import ActionKind, Catalog
from incidentflow.models import (
    DrainParams,
    FailoverParams,
    HpaBoundsParams,
    NodeDrainParams,
    NoopParams,
    ResourcesParams,
    RestartParams,
    Risk,
    ScaleParams,
    VerifyKind,
)

# Raising a limit, a bound or a replica count by more than this is a capacity decision.
MAX_FACTOR = 4


def _factor_problem(what: str, before: float, after: float) -> str | None:
    if before <= 0 or after <= 0:
        return f"{what} must be positive"
    if after > before * MAX_FACTOR or after < before / MAX_FACTOR:
        return f"{what} may change by at most {MAX_FACTOR}x ({before:g} -> {after:g})"
    return None


def _resources_limits(p: ResourcesParams) -> list[str]:
    values = {
        name: quantity.parse(text)
        for name, text in (
            ("from_request", p.from_request),
            ("to_request", p.to_request),
            ("from_limit", p.from_limit),
            ("to_limit", p.to_limit),
        )
    }
    bad = [name for name, v in values.items() if v is None]
    if bad:
        return [f"{', '.join(bad)}: not a Kubernetes quantity (e.g. 500m, 2, 512Mi)"]
    v = {k: x for k, x in values.items() if x is not None}
    found = [
        problem
        for problem in (
            _factor_problem("the request", v["from_request"], v["to_request"]),
            _factor_problem("the limit", v["from_limit"], v["to_limit"]),
        )
        if problem
    ]
    if v["to_request"] > v["to_limit"]:
        found.append("the request may not exceed the limit")
    if (p.from_request, p.from_limit) == (p.to_request, p.to_limit):
        found.append("nothing changes")
    return found


def _hpa_limits(p: HpaBoundsParams) -> list[str]:
    found = [m for m in (_factor_problem("maxReplicas", p.from_max, p.to_max),) if m]
    if p.to_min > p.to_max or p.from_min > p.from_max:
        found.append("minReplicas may not exceed maxReplicas")
    if (p.from_min, p.from_max) == (p.to_min, p.to_max):
        found.append("nothing changes")
    return found


def _scale_limits(p: ScaleParams) -> list[str]:
    if p.to_replicas == 0:
        return []  # scaling to zero is allowed but high risk (risk_of)
    problem = _factor_problem("replicas", max(p.from_replicas, 1), p.to_replicas)
    return [problem] if problem else []


def register_capacity(c: Catalog) -> None:
    """Register restart, scale, resources, hpa_bounds, node_drain, drain and failover."""
    c.register(
        ActionKind(
            name="restart",
            params=RestartParams,
            risk=Risk.LOW,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Restart {p.service} (rolling)",
            # A rolling restart leaves the service as it was: there is nothing to take back.
            undo=lambda p: NoopParams(reason=f"a rolling restart of {p.service} needs no undo"),
            undo_summary=lambda p: (
                f"Nothing to undo: a rolling restart of {p.service} leaves it as it was"
            ),
            check=lambda p: f"deployment/{p.service} finished its rollout.",
        )
    )
    c.register(
        ActionKind(
            name="scale",
            params=ScaleParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Scale {p.service} from {p.from_replicas} to {p.to_replicas} replicas"
            ),
            undo=lambda p: ScaleParams(
                service=p.service, from_replicas=p.to_replicas, to_replicas=p.from_replicas
            ),
            undo_summary=lambda p: f"Scale {p.service} back to {p.from_replicas} replicas",
            check=lambda p: f"deployment/{p.service} has {p.to_replicas} replicas.",
            limits=_scale_limits,
            # Zero replicas is an outage by choice.
            risk_of=lambda p: Risk.HIGH if p.to_replicas == 0 else Risk.MEDIUM,
        )
    )
    c.register(
        ActionKind(
            name="resources",
            params=ResourcesParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Set {p.service}'s {p.resource} request {p.from_request} -> {p.to_request} and "
                f"limit {p.from_limit} -> {p.to_limit} (rolls its pods)"
            ),
            undo=lambda p: p.model_copy(
                update={
                    "from_request": p.to_request,
                    "to_request": p.from_request,
                    "from_limit": p.to_limit,
                    "to_limit": p.from_limit,
                }
            ),
            undo_summary=lambda p: (
                f"Set {p.service}'s {p.resource} back to request {p.from_request}, "
                f"limit {p.from_limit}"
            ),
            check=lambda p: (
                f"deployment/{p.service} asks {p.resource} {p.to_request}, limit {p.to_limit}, "
                "and finished its rollout."
            ),
            limits=_resources_limits,
        )
    )
    c.register(
        ActionKind(
            name="hpa_bounds",
            params=HpaBoundsParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Set {p.service}'s autoscaler bounds from {p.from_min}-{p.from_max} to "
                f"{p.to_min}-{p.to_max} replicas"
            ),
            undo=lambda p: p.model_copy(
                update={
                    "from_min": p.to_min,
                    "from_max": p.to_max,
                    "to_min": p.from_min,
                    "to_max": p.from_max,
                }
            ),
            undo_summary=lambda p: (
                f"Set {p.service}'s autoscaler bounds back to {p.from_min}-{p.from_max}"
            ),
            check=lambda p: f"hpa/{p.service} bounds are {p.to_min}-{p.to_max}.",
            limits=_hpa_limits,
        )
    )
    c.register(
        ActionKind(
            name="node_drain",
            params=NodeDrainParams,
            risk=Risk.HIGH,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Cordon and drain node {p.node} (its pods move to other nodes)"
                if p.drained
                else f"Uncordon node {p.node}"
            ),
            undo=lambda p: p.model_copy(update={"drained": not p.drained}),
            undo_summary=lambda p: (
                f"Uncordon node {p.node}" if p.drained else f"Cordon and drain node {p.node}"
            ),
            check=lambda p: (
                f"node {p.node} is {'unschedulable and drained' if p.drained else 'schedulable'}."
            ),
        )
    )
    c.register(
        ActionKind(
            name="drain",
            params=DrainParams,
            risk=Risk.HIGH,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"{'Drain' if p.drained else 'Restore'} {p.service} traffic "
                f"{'from' if p.drained else 'to'} {p.target}"
            ),
            undo=lambda p: p.model_copy(update={"drained": not p.drained}),
            undo_summary=lambda p: (
                f"{'Restore' if p.drained else 'Drain'} {p.service} traffic on {p.target}"
            ),
        )
    )
    c.register(
        ActionKind(
            name="failover",
            params=FailoverParams,
            risk=Risk.HIGH,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Fail {p.service} over from {p.from_target} to {p.to_target}",
            undo=lambda p: FailoverParams(
                service=p.service, from_target=p.to_target, to_target=p.from_target
            ),
            undo_summary=lambda p: f"Fail {p.service} back to {p.from_target}",
        )
    )
