"""Kubernetes objects read into capacity records: Deployments, HPAs, pods and nodes.

Pure functions over the JSON `kubectl get ... -o json` prints (the shapes of `apps/v1`
Deployment, `autoscaling/v1|v2` HorizontalPodAutoscaler, `v1` Pod and Node); a field that is
absent is left unset rather than guessed (a container without a limit has no limit to raise).
"""

from __future__ import annotations

from typing import Any

from incidentflow.evidence import CapacityRecord, HpaState, NodeRecord, PodState

PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def _resources(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"].get("containers") or [{}]
    first = containers[0]
    res = first.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "container": str(first.get("name", "")),
        "cpu_request": text(requests.get("cpu")),
        "cpu_limit": text(limits.get("cpu")),
        "memory_request": text(requests.get("memory")),
        "memory_limit": text(limits.get("memory")),
    }


def read_hpa(hpa: dict[str, Any]) -> tuple[str, HpaState] | None:
    """(the Deployment it scales, its state), or None when it scales something else."""
    target = hpa["spec"].get("scaleTargetRef") or {}
    if target.get("kind") != "Deployment":
        return None
    status = hpa.get("status") or {}
    return str(target["name"]), HpaState(
        name=str(hpa["metadata"]["name"]),
        min_replicas=int(hpa["spec"].get("minReplicas", 1)),
        max_replicas=int(hpa["spec"]["maxReplicas"]),
        current_replicas=int(status.get("currentReplicas", 0)),
    )


def read_pod(pod: dict[str, Any]) -> PodState:
    """A pod's node, readiness, restarts and why its container last ended."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    containers = status.get("containerStatuses") or []
    ended: str | None = None
    for c in containers:
        for state in (c.get("lastState") or {}, c.get("state") or {}):
            reason = (state.get("terminated") or {}).get("reason")
            if reason:
                ended = str(reason)
        waiting = ((c.get("state") or {}).get("waiting") or {}).get("reason")
        if waiting == "CrashLoopBackOff" and ended is None:
            ended = "CrashLoopBackOff"
    return PodState(
        name=str(pod["metadata"]["name"]),
        node=(pod.get("spec") or {}).get("nodeName"),
        ready=conditions.get("Ready") == "True",
        restarts=sum(int(c.get("restartCount", 0)) for c in containers),
        last_terminated=ended,
    )


def read_capacity(
    deployments: list[dict[str, Any]],
    hpas: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    *,
    label: str,
    namespace: str,
    link: str,
) -> list[CapacityRecord]:
    """One record per Deployment carrying the service label, with its HPA and its pods."""
    scaled = {name: state for h in hpas if (found := read_hpa(h)) for name, state in [found]}
    by_service: dict[str, list[PodState]] = {}
    for pod in pods:
        service = (pod["metadata"].get("labels") or {}).get(label)
        if service:
            by_service.setdefault(str(service), []).append(read_pod(pod))
    out: list[CapacityRecord] = []
    for d in deployments:
        meta = d["metadata"]
        service = (meta.get("labels") or {}).get(label) or (
            (d["spec"].get("selector") or {}).get("matchLabels") or {}
        ).get(label)
        if not service:
            continue
        name = str(meta["name"])
        status = d.get("status") or {}
        out.append(
            CapacityRecord(
                service=str(service),
                deployment=name,
                namespace=meta.get("namespace") or namespace,
                replicas=int(d["spec"].get("replicas", 1)),
                ready_replicas=int(status.get("readyReplicas", 0)),
                **_resources(d),
                hpa=scaled.get(name),
                pods=sorted(by_service.get(str(service), []), key=lambda p: p.name),
                link=f"{link}{name}",
            )
        )
    return sorted(out, key=lambda r: r.service)


def read_node(node: dict[str, Any], *, link: str) -> NodeRecord:
    """A node's Ready condition, the pressure conditions that hold, and its cordon."""
    conditions = {
        c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []
    }
    name = str(node["metadata"]["name"])
    return NodeRecord(
        name=name,
        ready=conditions.get("Ready") == "True",
        pressure=[p for p in PRESSURE if conditions.get(p) == "True"],
        unschedulable=bool((node.get("spec") or {}).get("unschedulable", False)),
        link=f"{link}{name}",
    )
