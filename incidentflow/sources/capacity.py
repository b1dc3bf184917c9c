"""What the cluster runs, as evidence: a "capacity" item per service, a "node" item per node.

A `CapacitySource` (the kubectl source, a scenario bundle's `capacity.yaml`) answers with typed
records; this module turns them into `Evidence` the investigation attaches and the remediation
agent reads: current replicas, one container's requests and limits, the HPA's bounds, the pods
and the nodes they run on (Ready, pressure, cordoned). Every fact is a string attribute, so a
plan can cite `ev-capacity-<service>` or `ev-node-<name>` and an approver can read the numbers
behind "raise the limit from 500m to 1". Pure: the only I/O is the source's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from incidentflow.evidence import CapacityRecord, CapacitySource, NodeRecord, PodState
from incidentflow.models import Evidence, EvidenceKind

# Facts, not accusations: they tell the planner what to change, the ranking stays the metrics'.
CAPACITY_WEIGHT = 0.1
# A node that is NotReady or under pressure while pods on it fail is a finding of its own.
NODE_WEIGHT = 0.5


def failing(pod: PodState) -> bool:
    """A pod that is not ready, or whose container ended and restarted."""
    return not pod.ready or pod.restarts > 0 or pod.last_terminated is not None


def capacity_evidence(
    source: CapacitySource,
    *,
    services: Sequence[str],
    start: datetime,
    end: datetime,
    name: str,
) -> list[Evidence]:
    """A capacity item per service the source knows, then a node item per node its pods use."""
    records = sorted(source.capacity(services=services), key=lambda r: r.service)
    if not records:
        return []
    on_node: dict[str, set[str]] = {}
    failing_on: dict[str, set[str]] = {}
    for record in records:
        for pod in record.pods:
            if pod.node:
                on_node.setdefault(pod.node, set()).add(record.service)
                if failing(pod):
                    failing_on.setdefault(pod.node, set()).add(record.service)
    nodes = source.nodes(names=sorted(on_node)) if on_node else []
    items = [_capacity(r, start=start, end=end, name=name) for r in records]
    for node in sorted(nodes, key=lambda n: n.name):
        # The source may know every pod on the node, not only the candidates': a sick node
        # shows in services the incident has not reached yet.
        items.append(
            _node(
                node,
                services=sorted(on_node.get(node.name, set()) | set(node.services)),
                failing=sorted(failing_on.get(node.name, set()) | set(node.failing_services)),
                start=start,
                end=end,
                name=name,
            )
        )
    return items


def _resources(r: CapacityRecord) -> dict[str, str]:
    values = {
        "cpu_request": r.cpu_request,
        "cpu_limit": r.cpu_limit,
        "memory_request": r.memory_request,
        "memory_limit": r.memory_limit,
    }
    return {k: v for k, v in values.items() if v is not None}


def _capacity(r: CapacityRecord, *, start: datetime, end: datetime, name: str) -> Evidence:
    res = _resources(r)
    bad = [p for p in r.pods if failing(p)]
    oom = [p for p in r.pods if p.last_terminated == "OOMKilled"]
    nodes = sorted({p.node for p in r.pods if p.node})
    attributes = {
        "deployment": r.deployment,
        "replicas": str(r.replicas),
        "ready_replicas": str(r.ready_replicas),
        "container": r.container,
        **res,
        "pods": str(len(r.pods)),
        "failing_pods": str(len(bad)),
        "oom_killed": str(len(oom)),
        "nodes": ",".join(nodes),
        "failing_nodes": ",".join(sorted({p.node for p in bad if p.node})),
    }
    if r.namespace:
        attributes["namespace"] = r.namespace
    finding = f"{r.service}: deployment/{r.deployment} {r.ready_replicas}/{r.replicas} ready; " + (
        ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in res.items())
        or "no requests or limits set"
    )
    if r.hpa is not None:
        attributes |= {
            "hpa": r.hpa.name,
            "hpa_min": str(r.hpa.min_replicas),
            "hpa_max": str(r.hpa.max_replicas),
            "hpa_current": str(r.hpa.current_replicas),
            "hpa_at_max": str(r.hpa.at_max).lower(),
        }
        finding += (
            f"; HPA {r.hpa.name} {r.hpa.min_replicas}-{r.hpa.max_replicas} at "
            f"{r.hpa.current_replicas}" + (" (at its maximum)" if r.hpa.at_max else "")
        )
    if nodes:
        finding += f"; pods on {', '.join(nodes)}"
    if bad:
        finding += f"; {len(bad)} of {len(r.pods)} pods failing"
    if oom:
        finding += f" ({len(oom)} OOMKilled)"
    return Evidence(
        id=f"ev-capacity-{r.service}",
        kind=EvidenceKind.CAPACITY,
        source=name,
        service=r.service,
        query=f"deployment/{r.deployment}, its HPA and pods"
        + (f" in {r.namespace}" if r.namespace else ""),
        start=start,
        end=end,
        finding=finding,
        link=r.link,
        weight=CAPACITY_WEIGHT,
        attributes=attributes,
    )


def _node(
    node: NodeRecord,
    *,
    services: list[str],
    failing: list[str],
    start: datetime,
    end: datetime,
    name: str,
) -> Evidence:
    state = "Ready" if node.ready else "NotReady"
    if node.pressure:
        state += f", {', '.join(node.pressure)}"
    if node.unschedulable:
        state += ", cordoned"
    finding = f"node {node.name}: {state}; runs pods of {', '.join(services) or 'no service'}"
    if failing:
        finding += f"; failing pods of {', '.join(failing)}"
    return Evidence(
        id=f"ev-node-{node.name}",
        kind=EvidenceKind.NODE,
        source=name,
        service=None,
        query=f"node/{node.name} conditions",
        start=start,
        end=end,
        finding=finding,
        link=node.link,
        weight=NODE_WEIGHT if node.unhealthy and failing else CAPACITY_WEIGHT,
        attributes={
            "node": node.name,
            "ready": str(node.ready).lower(),
            "pressure": ",".join(node.pressure),
            "unschedulable": str(node.unschedulable).lower(),
            "services": ",".join(services),
            "failing_services": ",".join(failing),
        },
    )
