"""Faults whose fix is in what the cluster runs: a CPU limit, a node, a Helm release.

Written from the published classes of Kubernetes fault scenarios whose accepted fixes are
SRE-written: a container whose CPU limit is too low for its work (throttled on every pod while
traffic is steady: raise the limit), a node under memory pressure whose evictions and OOM kills
hurt several services at once (cordon and drain it), and a bad Helm release (roll the release
back to its previous revision). Each bundle carries `capacity.yaml`: the Deployments (replicas,
requests and limits, HPAs, pods and their nodes) and the nodes, as `kubectl get -o json`
reports them. None is copied from any one benchmark's files.
"""

from __future__ import annotations

from typing import Any

from spec_types import DISK_WARNING, AlertSpec, ChangeSpec, ExpectedSpec, Spec, _t
from topologies import SHOP

NODES = ("node-a", "node-b", "node-c")


def _pods(svc: str, replicas: int, failing: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """`replicas` pods spread over the nodes; `failing` maps a pod index to why it ended."""
    out: list[dict[str, Any]] = []
    for i in range(replicas):
        pod: dict[str, Any] = {"name": f"{svc}-{i}", "node": NODES[i % len(NODES)]}
        if failing and i in failing:
            pod |= {"ready": False, "restarts": 3, "last_terminated": failing[i]}
        out.append(pod)
    return out


def _deployment(svc: str, **over: Any) -> dict[str, Any]:
    """A shop Deployment with ordinary requests and limits, unless `over` says otherwise."""
    replicas = over.pop("replicas", 3)
    failing = over.pop("failing", None)
    doc = {
        "service": svc,
        "deployment": svc,
        "namespace": "shop",
        "replicas": replicas,
        "ready_replicas": replicas - len(failing or {}),
        "container": svc,
        "cpu_request": "250m",
        "cpu_limit": "1",
        "memory_request": "512Mi",
        "memory_limit": "1Gi",
        "pods": _pods(svc, replicas, failing),
    }
    return doc | over


def _cluster(
    overrides: dict[str, dict[str, Any]], nodes: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    deployments = [
        _deployment(s["name"], **overrides.get(s["name"], {}))
        for s in SHOP
        if s["tier"] != "datastore"
    ]
    return {
        "deployments": deployments,
        "nodes": [{"name": n, **(nodes or {}).get(n, {})} for n in NODES],
    }


def _act(kind: str, svc: str) -> dict[str, str]:
    return {"kind": kind, "service": svc}


CAPACITY_SPECS: list[Spec] = [
    Spec(
        name="shop-search-cpu-limit",
        topology="shop",
        description="search's index outgrew what a 500m CPU limit can serve: every search pod "
        "is throttled at its limit while the request rate stays where it always is; search "
        "latency climbs and the gateway's search route slows.",
        onset=_t(20, 13, 30),
        root="search",
        lead_minutes=5,
        effects={"cpu_usage_ratio": (0.99, 3), "http_latency_p99_seconds": (2.3, 3)},
        symptom_tops=["api-gateway"],
        logs={
            "search": [
                (
                    "warning",
                    "query {n} took 2140ms: CPU throttled (cfs quota exhausted in 9 of 10 periods)",
                    {},
                )
            ]
        },
        trace_from="api-gateway",
        trace_effect="slow",
        alerts=[
            AlertSpec("HighLatency", "search"),
            AlertSpec("HighLatency", "api-gateway", delay_s=75),
            DISK_WARNING,
        ],
        expected=[
            ExpectedSpec(
                ["HighLatency/search", "HighLatency/api-gateway"],
                "search",
                "search",
                "resource_exhaustion",
                None,
                [_act("resources", "search")],
            )
        ],
        unrelated=["HostDiskWillFillIn24Hours"],
        capacity=_cluster({"search": {"cpu_limit": "500m", "cpu_request": "250m"}}),
    ),
    Spec(
        name="shop-node-memory-pressure",
        topology="shop",
        description="node-b runs out of memory (a batch job with no memory limit grows on it): "
        "the kubelet reports MemoryPressure, evicts pods and the kernel OOM-kills containers; "
        "cart and recommendations, whose pods run on node-b, fail at once while their pods on "
        "the other nodes are healthy.",
        onset=_t(21, 3, 10),
        root="cart",
        lead_minutes=3,
        effects={"http_error_ratio": (0.3, 1)},
        co_effects={"recommendations": {"http_error_ratio": (0.28, 1)}},
        symptom_tops=["web-frontend"],
        logs={
            "cart": [
                (
                    "error",
                    "pod cart-1 evicted: The node was low on resource: memory; container "
                    "cart OOM-killed (request {n})",
                    {},
                )
            ],
            "recommendations": [
                (
                    "error",
                    "container recommendations OOMKilled on node-b; restarting (request {n})",
                    {},
                )
            ],
        },
        alerts=[
            AlertSpec("HighErrorRate", "cart"),
            AlertSpec("HighErrorRate", "recommendations", delay_s=20),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=60),
            AlertSpec("HighErrorRate", "web-frontend", delay_s=80),
        ],
        expected=[
            ExpectedSpec(
                [
                    "HighErrorRate/cart",
                    "HighErrorRate/recommendations",
                    "HighErrorRate/api-gateway",
                    "HighErrorRate/web-frontend",
                ],
                "cart",
                "cart",
                "resource_exhaustion",
                None,
                [{"kind": "node_drain", "service": "node-b"}],
                also=["recommendations"],
            )
        ],
        capacity=_cluster(
            {
                "cart": {"failing": {1: "Evicted"}},
                "recommendations": {"replicas": 2, "failing": {1: "OOMKilled"}},
                # The batch job that grows without a memory limit, on node-b.
                "reporting-worker": {
                    "replicas": 1,
                    "memory_limit": None,
                    "memory_request": None,
                    "pods": [{"name": "reporting-worker-0", "node": "node-b"}],
                },
            },
            nodes={"node-b": {"pressure": ["MemoryPressure"]}},
        ),
    ),
    Spec(
        name="shop-checkout-helm-release",
        topology="shop",
        description="checkout's Helm release goes from revision 41 to 42 (chart 3.4.0 -> "
        "3.5.0), whose template no longer sets PAYMENTS_URL; checkout fails every order and "
        "the gateway's checkout route fails with it.",
        onset=_t(22, 16, 40),
        root="checkout",
        effects={"http_error_ratio": (0.46, 1)},
        symptom_tops=["api-gateway"],
        logs={
            "checkout": [
                (
                    "error",
                    "order {n} failed: PAYMENTS_URL is not set; cannot reach payments",
                    {"service.version": "3.5.0"},
                )
            ]
        },
        trace_from="api-gateway",
        trace_effect="error",
        changes=[
            ChangeSpec("chg-cart-501", "cart", "deploy", 70, "v4.3.1", "v4.3.2"),
            ChangeSpec(
                "chg-helm-checkout-42",
                "checkout",
                "deploy",
                5,
                "helm/checkout@41",
                "helm/checkout@42",
                "helm",
                "helm upgrade checkout: chart 3.4.0 -> 3.5.0",
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "checkout"),
            AlertSpec("HighErrorRate", "api-gateway", delay_s=70),
        ],
        expected=[
            ExpectedSpec(
                ["HighErrorRate/checkout", "HighErrorRate/api-gateway"],
                "checkout",
                "checkout",
                "bad_deploy",
                "chg-helm-checkout-42",
                [_act("release_rollback", "checkout")],
            )
        ],
    ),
]
