"""Saturation and placement from what the cluster runs: raise a limit, scale, widen an HPA,
drain a node. Each proposal is built from the "capacity" and "node" evidence items
(`incidentflow/sources/capacity.py`) and the metric items of the investigation; without them
nothing here proposes anything (no guessing current limits or replicas). Pure.

- usage at or near the container's LIMIT (`<cpu|memory>_usage_ratio`, usage over the limit,
  peaks at `NEAR_LIMIT` or more; for memory, an OOMKilled pod) while the request rate did not
  rise: raise the limit (`resources`, x`RAISE`, within the catalog's bound);
- load grew, or every replica is saturated with the HPA at its maximum: `hpa_bounds` (raise
  the maximum) when an HPA scales it, else `scale` from the recorded replicas;
- pods of several services failing on one node that is NotReady or under pressure:
  `node_drain` of that node.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidentflow.catalog import quantity
from incidentflow.models import (
    Evidence,
    EvidenceKind,
    HpaBoundsParams,
    Investigation,
    NodeDrainParams,
    ResourcesParams,
    ScaleParams,
)

# Usage over the limit at or above this is "at the limit": the container is throttled (CPU)
# or about to be killed (memory).
NEAR_LIMIT = 0.9
# A limit or an HPA maximum is doubled: headroom for the incident, far inside MAX_FACTOR.
RAISE = 2
# A request rate this many IQR above its baseline is "load grew" (the engine's anomaly bar).
TRAFFIC_Z = 3.0
# "Several services": one failing service on a node is that service's problem.
MIN_SERVICES_ON_NODE = 2


@dataclass(frozen=True)
class Capacity:
    """A service's capacity evidence item, read back."""

    evidence: Evidence

    def get(self, key: str) -> str | None:
        """An attribute, or None when the cluster did not set it."""
        value = self.evidence.attributes.get(key)
        return value if value else None

    @property
    def replicas(self) -> int:
        """The Deployment's replicas."""
        return int(self.evidence.attributes.get("replicas", "0"))

    @property
    def hpa_at_max(self) -> bool:
        """An HPA scales it and stands at its maximum."""
        return self.get("hpa_at_max") == "true"

    @property
    def oom_killed(self) -> int:
        """Pods whose container was last OOMKilled."""
        return int(self.evidence.attributes.get("oom_killed", "0"))


def capacity_of(investigation: Investigation, service: str) -> Capacity | None:
    """The service's capacity item, if a source read its Deployment."""
    found = next(
        (
            e
            for e in investigation.evidence
            if e.kind is EvidenceKind.CAPACITY and e.service == service
        ),
        None,
    )
    return Capacity(found) if found is not None else None


def _metric(investigation: Investigation, service: str, name: str) -> Evidence | None:
    return next(
        (
            e
            for e in investigation.evidence
            if e.kind is EvidenceKind.METRIC
            and e.service == service
            and e.id == f"ev-metric-{service}-{name}"
        ),
        None,
    )


def usage_peak(investigation: Investigation, service: str, resource: str) -> float | None:
    """The peak of `<resource>_usage_ratio` (usage over the limit) since the onset, if known."""
    item = _metric(investigation, service, f"{resource}_usage_ratio")
    if item is None or "incident_peak" not in item.attributes:
        return None
    return float(item.attributes["incident_peak"])


def traffic_rose(investigation: Investigation, service: str) -> bool | None:
    """Whether the service's request rate rose clearly above its own baseline; None when no
    request-rate series of it was read (the words of the evidence decide then)."""
    item = _metric(investigation, service, "request_rate")
    if item is None or "z" not in item.attributes:
        return None
    return float(item.attributes["z"]) >= TRAFFIC_Z


def at_limit(investigation: Investigation, cap: Capacity, resource: str) -> str | None:
    """Why `resource` is at its limit (a sentence), or None when the evidence does not say so."""
    limit = cap.get(f"{resource}_limit")
    if limit is None:
        return None
    peak = usage_peak(investigation, cap.evidence.service or "", resource)
    if peak is not None and peak >= NEAR_LIMIT:
        return f"{resource} usage peaked at {peak:.0%} of its limit {limit}"
    if resource == "memory" and cap.oom_killed:
        return f"{cap.oom_killed} pod(s) were OOMKilled at the memory limit {limit}"
    return None


def raise_limit(cap: Capacity, resource: str) -> ResourcesParams | None:
    """The limit x`RAISE`, the request kept (an unset request is the limit, as Kubernetes
    defaults it); None when the Deployment sets no limit for `resource`."""
    limit = cap.get(f"{resource}_limit")
    if limit is None or quantity.parse(limit) is None:
        return None
    request = cap.get(f"{resource}_request") or limit
    if quantity.parse(request) is None:
        return None
    return ResourcesParams(
        service=cap.evidence.service or "",
        resource="cpu" if resource == "cpu" else "memory",
        from_request=request,
        to_request=request,
        from_limit=limit,
        to_limit=quantity.scaled(limit, RAISE),
    )


def widen_hpa(cap: Capacity) -> HpaBoundsParams | None:
    """The HPA's maximum x`RAISE` (its minimum kept), when one scales the service."""
    lo, hi = cap.get("hpa_min"), cap.get("hpa_max")
    if lo is None or hi is None:
        return None
    return HpaBoundsParams(
        service=cap.get("hpa") or cap.evidence.service or "",
        from_min=max(int(lo), 1),
        from_max=int(hi),
        to_min=max(int(lo), 1),
        to_max=int(hi) * RAISE,
    )


def scale_out(cap: Capacity) -> ScaleParams:
    """The recorded replicas doubled (one, from none)."""
    now = cap.replicas
    return ScaleParams(
        service=cap.evidence.service or "", from_replicas=now, to_replicas=max(now * RAISE, 1)
    )


def bad_node(investigation: Investigation, service: str) -> tuple[NodeDrainParams, str] | None:
    """The node to drain and why: NotReady or under pressure, with failing pods of `service`
    and of at least one other service on it."""
    for item in sorted(
        (e for e in investigation.evidence if e.kind is EvidenceKind.NODE), key=lambda e: e.id
    ):
        a = item.attributes
        failing = [s for s in a.get("failing_services", "").split(",") if s]
        pressure = [p for p in a.get("pressure", "").split(",") if p]
        unhealthy = a.get("ready") == "false" or bool(pressure)
        if (
            not unhealthy
            or a.get("unschedulable") == "true"
            or service not in failing
            or len(failing) < MIN_SERVICES_ON_NODE
        ):
            continue
        state = " and ".join(
            (["NotReady"] if a.get("ready") == "false" else [])
            + ([f"under {', '.join(pressure)}"] if pressure else [])
        )
        why = (
            f"node {a['node']} is {state} and pods of {', '.join(failing)} fail on it: the "
            "node, not one service, is the fault; cordon and drain it so they reschedule"
        )
        return NodeDrainParams(node=a["node"]), why
    return None
