"""Issue 18 item 2, saturation and placement: which of resources, scale, hpa_bounds and
node_drain the evidence calls for, and why; and a Helm/Argo CD revision -> release_rollback.

Hand-built investigations with the items the capacity source produces ("capacity" per
service, "node" per node) beside the metric items the engine would cite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_alerts import demo
from test_remediation_choice import ERRORS, change, ev, planned

from incidentflow.eval.offline import run_offline
from incidentflow.eval.score import score_case
from incidentflow.llm.remediation import params_problems
from incidentflow.models import (
    Evidence,
    EvidenceKind,
    FaultType,
    HpaBoundsParams,
    NodeDrainParams,
    ReleaseRollbackParams,
    ResourcesParams,
    RestartParams,
    ScaleParams,
)
from incidentflow.scenario import load_scenario
from incidentflow.sources.bundle import BundleEvidenceSource

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def capacity(service: str = "payments", **attrs: str) -> Evidence:
    base = {
        "deployment": service,
        "replicas": "3",
        "ready_replicas": "3",
        "cpu_request": "250m",
        "cpu_limit": "500m",
        "memory_request": "256Mi",
        "memory_limit": "512Mi",
        "oom_killed": "0",
    }
    values = {k: v for k, v in (base | attrs).items() if v != "-"}
    return ev(f"ev-capacity-{service}", EvidenceKind.CAPACITY, service, "deployment", **values)


def metric(name: str, peak: str, z: str, service: str = "payments") -> Evidence:
    return ev(
        f"ev-metric-{service}-{name}",
        EvidenceKind.METRIC,
        service,
        f"{service} {name} rose",
        incident_peak=peak,
        z=z,
    )


def node(name: str, failing: str, *, ready: str = "true", pressure: str = "") -> Evidence:
    return ev(
        f"ev-node-{name}",
        EvidenceKind.NODE,
        "",
        f"node {name}",
        node=name,
        ready=ready,
        pressure=pressure,
        unschedulable="false",
        services=failing,
        failing_services=failing,
    ).model_copy(update={"service": None})


CPU_FULL = metric("cpu_usage_ratio", "0.97", "9.5")
STEADY = metric("request_rate", "212", "0.4")
SURGE = metric("request_rate", "1400", "12.0")


def test_cpu_at_its_limit_with_steady_traffic_raises_the_limit() -> None:
    result = planned(FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, STEADY, capacity()])
    assert result.action is not None
    assert result.action.params == ResourcesParams(
        service="payments",
        resource="cpu",
        from_request="250m",
        to_request="250m",
        from_limit="500m",
        to_limit="1000m",
    )
    # The catalog says the values, the rationale says why, the capacity item is cited.
    assert "500m" in result.action.summary and "1000m" in result.action.summary
    assert "97% of its limit 500m" in result.rationale
    assert "request rate stayed at its baseline" in result.rationale
    # Without the request-rate series it says only what it knows.
    unread = planned(FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, capacity()])
    assert unread.action is not None and unread.action.params.kind == "resources"
    assert "nothing in the evidence shows more requests" in unread.rationale
    assert "ev-capacity-payments" in result.evidence_ids
    # Spreading the work stays an alternative, from the recorded replicas.
    assert [a.params for a in result.alternatives] == [
        ScaleParams(service="payments", from_replicas=3, to_replicas=6)
    ]


def test_an_unset_request_is_kept_as_the_limit_kubernetes_defaults_it_to() -> None:
    result = planned(
        FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, STEADY, capacity(cpu_request="-", cpu_limit="2")]
    )
    assert result.action is not None and isinstance(result.action.params, ResourcesParams)
    p = result.action.params
    assert (p.from_request, p.to_request, p.from_limit, p.to_limit) == ("2", "2", "2", "4")


def test_without_the_limit_in_the_evidence_nothing_is_guessed() -> None:
    # No capacity item at all: the rule that held before (scale, the default replicas).
    result = planned(FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, STEADY])
    assert result.action is not None and result.action.params.kind == "scale"
    assert all(a.params.kind != "resources" for a in result.alternatives)
    # A Deployment without a CPU limit: nothing to raise; scale from what it runs.
    result = planned(
        FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, STEADY, capacity(cpu_limit="-", replicas="5")]
    )
    assert result.action is not None
    assert result.action.params == ScaleParams(service="payments", from_replicas=5, to_replicas=10)
    assert all(a.params.kind != "resources" for a in result.alternatives)


def test_cpu_below_its_limit_is_not_a_limit_problem() -> None:
    half = metric("cpu_usage_ratio", "0.62", "5.0")
    cpu = ev("ev-cpu", EvidenceKind.METRIC, "payments", "cpu saturated on the host")
    result = planned(FaultType.RESOURCE_EXHAUSTION, [cpu, half, STEADY, capacity()])
    assert result.action is not None and result.action.params.kind == "scale"
    assert all(a.params.kind != "resources" for a in result.alternatives)


def test_load_that_grew_scales_out_or_widens_an_hpa_at_its_maximum() -> None:
    result = planned(FaultType.TRAFFIC_SURGE, [SURGE, CPU_FULL, capacity(replicas="4")])
    assert result.action is not None
    assert result.action.params == ScaleParams(service="payments", from_replicas=4, to_replicas=8)
    assert all(a.params.kind != "resources" for a in result.alternatives)
    hpa = {"hpa": "payments", "hpa_min": "2", "hpa_max": "6", "hpa_current": "6"}
    result = planned(
        FaultType.RESOURCE_EXHAUSTION,
        [SURGE, CPU_FULL, capacity(replicas="6", hpa_at_max="true", **hpa)],
    )
    assert result.action is not None
    assert result.action.params == HpaBoundsParams(
        service="payments", from_min=2, from_max=6, to_min=2, to_max=12
    )
    assert "already runs 6 replicas, its maximum" in result.rationale


def test_every_replica_at_the_limit_with_the_hpa_at_max_widens_it_then_raises_the_limit() -> None:
    hpa = {"hpa": "payments", "hpa_min": "2", "hpa_max": "4", "hpa_current": "4"}
    cap = capacity(replicas="4", hpa_at_max="true", **hpa)
    result = planned(FaultType.RESOURCE_EXHAUSTION, [CPU_FULL, STEADY, cap])
    assert result.action is not None and isinstance(result.action.params, HpaBoundsParams)
    assert result.action.params.to_max == 8
    assert [a.params.kind for a in result.alternatives] == ["resources", "scale"]


def test_a_leak_restarts_with_a_raised_memory_limit_as_the_alternative() -> None:
    oom = ev("ev-log-oom", EvidenceKind.LOG, "payments", "container OOMKilled; heap space")
    result = planned(FaultType.RESOURCE_EXHAUSTION, [oom, capacity(oom_killed="2")])
    assert result.action is not None
    assert result.action.params == RestartParams(service="payments")
    assert [a.params for a in result.alternatives] == [
        ResourcesParams(
            service="payments",
            resource="memory",
            from_request="256Mi",
            to_request="256Mi",
            from_limit="512Mi",
            to_limit="1024Mi",
        )
    ]
    assert "OOMKilled at the memory limit 512Mi" in result.alternative_reasons[0].reason
    # Without the capacity item the documented rule alone: a restart, no guessed limit.
    result = planned(FaultType.RESOURCE_EXHAUSTION, [oom])
    assert result.action is not None and result.alternatives == []


@pytest.mark.parametrize(
    ("ready", "pressure", "failing", "drained"),
    [
        ("true", "MemoryPressure", "cart,payments", True),
        ("false", "", "payments,search", True),
        ("true", "", "cart,payments", False),  # a healthy node is not the fault
        ("true", "MemoryPressure", "payments", False),  # one service: its own problem
        ("true", "DiskPressure", "cart,search", False),  # not the top service's node
    ],
)
def test_pods_of_several_services_failing_on_one_sick_node_drain_it(
    ready: str, pressure: str, failing: str, drained: bool
) -> None:
    items = [ERRORS, capacity(), node("node-2", failing, ready=ready, pressure=pressure)]
    result = planned(FaultType.CODE_EXCEPTION, items)
    got = result.action.params if result.action else None
    if drained:
        assert got == NodeDrainParams(node="node-2")
        assert result.action is not None and result.action.risk.value == "high"
        assert "ev-node-node-2" in result.evidence_ids
        assert "node, not one service, is the fault" in result.rationale
    else:
        assert not isinstance(got, NodeDrainParams)
        assert all(a.params.kind != "node_drain" for a in result.alternatives)


def test_a_helm_or_argocd_revision_rolls_back_to_the_previous_revision() -> None:
    helm = change("c7", "payments", "deploy", "helm/payments@41", "helm/payments@42")
    got = planned(FaultType.BAD_DEPLOY, [helm, ERRORS], change_id="c7")
    assert got.action is not None
    assert got.action.params == ReleaseRollbackParams(
        service="payments", tool="helm", release="payments", from_revision=42, to_revision=41
    )
    assert got.action.undo == got.action.params.model_copy(
        update={"from_revision": 41, "to_revision": 42}
    )
    argo = change("c8", "payments", "deploy", "argocd/shop-payments@7", "argocd/shop-payments@9")
    params = planned(FaultType.BAD_DEPLOY, [argo], change_id="c8").action
    assert params is not None and isinstance(params.params, ReleaseRollbackParams)
    assert (params.params.tool, params.params.to_revision) == ("argocd", 7)
    # Two different releases (or a revision on one side only) is not a rollback: said, not done.
    odd = change("c9", "payments", "deploy", "helm/payments@41", "helm/ledger@42")
    result = planned(FaultType.BAD_DEPLOY, [odd], change_id="c9")
    assert result.action is None and "two different releases" in result.rationale


@pytest.mark.parametrize(
    ("name", "kind", "cited"),
    [
        ("shop-search-cpu-limit", "resources", "ev-capacity-search"),
        ("shop-node-memory-pressure", "node_drain", "ev-node-node-b"),
        ("shop-checkout-helm-release", "release_rollback", "ev-change-chg-helm-checkout-42"),
    ],
)
def test_the_capacity_bundles_end_in_the_fix_an_sre_applies(
    name: str, kind: str, cited: str
) -> None:
    scenario = load_scenario(SCENARIOS / name)
    observed, investigations = run_offline(scenario)
    case = score_case(scenario, observed)
    assert case.rc_at_1 == [True] and case.action_ok == [True], case.detail
    matched = [o for o in observed if o.action and o.action.get("kind") == kind]
    assert matched and any(cited in o.plan for o in matched)
    if name == "shop-search-cpu-limit":
        (inv,) = investigations
        cap = next(e for e in inv.evidence if e.id == "ev-capacity-search")
        assert (cap.attributes["cpu_limit"], cap.attributes["replicas"]) == ("500m", "3")


def test_a_bundles_node_knows_every_service_on_it() -> None:
    source = BundleEvidenceSource(load_scenario(SCENARIOS / "shop-node-memory-pressure"))
    (node,) = source.nodes(names=["node-b"])
    assert node.pressure == ["MemoryPressure"]
    assert node.failing_services == ["cart", "recommendations"]
    assert "reporting-worker" in node.services
    assert [r.service for r in source.capacity(services=["cart", "nope"])] == ["cart"]


def test_a_model_may_not_guess_current_limits_bounds_or_replicas() -> None:
    graph = demo().topology
    allowed = {"payments"}
    raise_cpu = ResourcesParams(
        service="payments",
        resource="cpu",
        from_request="250m",
        to_request="250m",
        from_limit="500m",
        to_limit="1",
    )
    assert "no capacity item" in " ".join(params_problems(raise_cpu, [CPU_FULL], allowed, graph))
    assert params_problems(raise_cpu, [CPU_FULL, capacity()], allowed, graph) == []
    guessed = raise_cpu.model_copy(update={"from_limit": "400m"})
    assert "must start from ev-capacity-payments" in " ".join(
        params_problems(guessed, [capacity()], allowed, graph)
    )
    hpa = {"hpa": "payments", "hpa_min": "2", "hpa_max": "6", "hpa_current": "6"}
    bounds = HpaBoundsParams(service="payments", from_min=2, from_max=5, to_min=2, to_max=10)
    assert params_problems(bounds, [capacity(**hpa)], allowed, graph)
    scale = ScaleParams(service="payments", from_replicas=3, to_replicas=6)
    assert params_problems(scale, [capacity()], allowed, graph) == []
    assert params_problems(scale, [capacity(replicas="5")], allowed, graph)
    assert params_problems(scale, [], allowed, graph) == []  # nothing recorded: as before
