"""The kubectl capacity reads against the REAL `kubectl` binary (Debian's `kubernetes-client`,
the package the image ships; scripts/apt-packages.txt installs it for the tests) talking to a
loopback server that speaks the Kubernetes API's GET paths (`kube_api.py`), through a
kubeconfig: Deployments, HPAs, pods, nodes -> typed records -> capacity and node evidence ->
the plan that drains the sick node.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kube_api import KubeApi
from scenario_alerts import demo, demo_incident

from incidentflow.agents.remediation import plan
from incidentflow.errors import EvidenceUnavailable
from incidentflow.evidence import HpaState
from incidentflow.models import (
    Evidence,
    EvidenceKind,
    FaultType,
    Hypothesis,
    Investigation,
    NodeDrainParams,
    PlanInput,
)
from incidentflow.sources.capacity import capacity_evidence
from incidentflow.sources.kubectl import KubectlChangeLog

AT = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)


def kubectl() -> str:
    """The real kubectl; a clear failure (not a skip) when the package is missing."""
    found = os.environ.get("INCIDENTFLOW_TEST_KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not installed: run scripts/system-deps (kubernetes-client)")
    return found


def deployment(name: str, replicas: int, ready: int, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"spec": {"containers": [{"name": name, "resources": resources}]}},
        },
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def hpa(name: str, kind: str, lo: int, hi: int, current: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
            "minReplicas": lo,
            "maxReplicas": hi,
        },
        "status": {"currentReplicas": current},
    }


def pod(name: str, app: str, node: str, *, ready: bool, ended: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": app, "ready": ready, "restartCount": 0}
    if ended == "OOMKilled":
        status |= {"restartCount": 4, "lastState": {"terminated": {"reason": "OOMKilled"}}}
    elif ended == "CrashLoopBackOff":
        status |= {"restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "spec": {"nodeName": node},
        "status": {
            "conditions": [{"type": "Ready", "status": str(ready)}],
            "containerStatuses": [status],
        },
    }


def node(name: str, **conditions: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "conditions": [
                {"type": kind, "status": value}
                for kind, value in {"Ready": "True", **conditions}.items()
            ]
        },
    }


LIMITED = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}


@pytest.fixture
def api() -> Any:
    with KubeApi(
        namespace="shop",
        deployments=[
            deployment("payments", 3, 2, LIMITED),
            deployment("cart", 2, 1, {}),
            deployment("search", 4, 4, LIMITED),  # not asked for: the selector leaves it out
        ],
        hpas=[hpa("payments", "Deployment", 2, 3, 3), hpa("ledger", "StatefulSet", 1, 4, 2)],
        pods=[
            pod("payments-a", "payments", "node-1", ready=True),
            pod("payments-b", "payments", "node-2", ready=False, ended="OOMKilled"),
            pod("cart-a", "cart", "node-2", ready=False, ended="CrashLoopBackOff"),
            pod("search-a", "search", "node-2", ready=True),
        ],
        nodes=[node("node-1"), node("node-2", MemoryPressure="True", DiskPressure="False")],
    ) as peer:
        yield peer


def source(api: KubeApi, tmp_path: Path, **kw: Any) -> KubectlChangeLog:
    return KubectlChangeLog(
        binary=kubectl(),
        namespace="shop",
        kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"),
        read_capacity=True,
        **kw,
    )


def test_real_kubectl_reads_deployments_hpas_pods_and_nodes(api: KubeApi, tmp_path: Path) -> None:
    src = source(api, tmp_path)
    records = {r.service: r for r in src.capacity(services=["payments", "cart"])}
    assert sorted(records) == ["cart", "payments"]
    pay = records["payments"]
    assert (pay.replicas, pay.ready_replicas, pay.cpu_request, pay.cpu_limit) == (
        3,
        2,
        "250m",
        "500m",
    )
    assert (pay.memory_request, pay.memory_limit) == ("256Mi", "512Mi")
    assert pay.hpa == HpaState(name="payments", min_replicas=2, max_replicas=3, current_replicas=3)
    assert [(p.name, p.node, p.ready, p.last_terminated) for p in pay.pods] == [
        ("payments-a", "node-1", True, None),
        ("payments-b", "node-2", False, "OOMKilled"),
    ]
    cart = records["cart"]
    assert cart.cpu_limit is None and cart.hpa is None  # unset stays unset, never guessed
    assert cart.pods[0].last_terminated == "CrashLoopBackOff"
    nodes = {n.name: n for n in src.nodes(names=["node-1", "node-2"])}
    assert nodes["node-1"].pressure == [] and nodes["node-1"].ready
    assert nodes["node-2"].pressure == ["MemoryPressure"]
    # A sick node is read once more for every pod on it, services not asked for included.
    assert nodes["node-2"].services == ["cart", "payments", "search"]
    assert nodes["node-2"].failing_services == ["cart", "payments"]
    assert nodes["node-1"].services == []  # a healthy node costs no second read
    assert any("fieldSelector=spec.nodeName%3Dnode-2" in r for r in api.requests), api.requests
    assert not any("fieldSelector=spec.nodeName%3Dnode-1" in r for r in api.requests)
    # Reads only, one list per question, the services selected by label.
    reads = [r for r in api.requests if "/namespaces/shop/" in r or "/nodes/" in r]
    assert any("deployments?labelSelector=app+in+%28cart%2Cpayments%29" in r for r in reads), reads
    assert any("/pods?labelSelector=" in r for r in reads)
    assert any("horizontalpodautoscalers" in r for r in reads)
    assert {r.split("?")[0] for r in reads if "/nodes/" in r} == {
        "/api/v1/nodes/node-1",
        "/api/v1/nodes/node-2",
    }


def test_capacity_and_node_evidence_lead_to_draining_the_sick_node(
    api: KubeApi, tmp_path: Path
) -> None:
    src = source(api, tmp_path)
    items = capacity_evidence(src, services=["payments", "cart"], start=AT, end=AT, name="k8s")
    by_id = {e.id: e for e in items}
    assert sorted(by_id) == [
        "ev-capacity-cart",
        "ev-capacity-payments",
        "ev-node-node-1",
        "ev-node-node-2",
    ]
    pay = by_id["ev-capacity-payments"].attributes
    assert (pay["cpu_limit"], pay["hpa_max"], pay["hpa_at_max"], pay["oom_killed"]) == (
        "500m",
        "3",
        "true",
        "1",
    )
    sick = by_id["ev-node-node-2"]
    assert sick.attributes["failing_services"] == "cart,payments"
    assert sick.attributes["services"] == "cart,payments,search"
    assert "MemoryPressure" in sick.finding
    assert by_id["ev-node-node-1"].attributes["failing_services"] == ""
    errors = Evidence(
        id="ev-log-1",
        kind=EvidenceKind.LOG,
        source="loki",
        service="payments",
        query="q",
        start=AT,
        end=AT,
        finding="payments pods restart",
        weight=0.7,
    )
    top = Hypothesis(
        cause="payments fails",
        service="payments",
        fault_type=FaultType.CODE_EXCEPTION,
        confidence=0.7,
        evidence_ids=["ev-log-1"],
    )
    inv = Investigation(
        incident_id=demo_incident().id,
        hypotheses=[top],
        rejected=[],
        evidence=[errors, *items],
        summary="s",
    )
    got = plan(PlanInput(incident=demo_incident(), investigation=inv), demo().topology)
    assert got.action is not None and got.action.params == NodeDrainParams(node="node-2")
    assert "ev-node-node-2" in got.evidence_ids


def test_capacity_is_off_unless_enabled_and_a_refusal_is_unavailable(
    api: KubeApi, tmp_path: Path
) -> None:
    off = KubectlChangeLog(
        binary=kubectl(), namespace="shop", kubeconfig=api.kubeconfig(tmp_path / "kc")
    )
    assert off.capacity(services=["payments"]) == [] and off.nodes(names=["node-1"]) == []
    assert not [r for r in api.requests if "/namespaces/" in r]
    with pytest.raises(EvidenceUnavailable, match="kubectl get nodes"):
        source(api, tmp_path).nodes(names=["node-9"])  # 404 from the API server
