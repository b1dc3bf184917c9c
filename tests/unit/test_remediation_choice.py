"""Issue 18 items 2-4: the plan follows the evidence; no action beats a wrong one; alternatives.

Hand-built investigations on the demo shop's incident: one hypothesis each, with the evidence
an engine would cite, so each row of docs/remediation.md's table is checked on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scenario_alerts import demo, demo_incident

from incidentflow.agents.remediation import pick, plan
from incidentflow.catalog import CATALOG
from incidentflow.models import (
    ConfigRevertParams,
    Evidence,
    EvidenceKind,
    FaultType,
    FeatureFlagParams,
    Hypothesis,
    InfraRevertParams,
    Investigation,
    PlanInput,
    RemediationPlan,
    RestartParams,
    RollbackParams,
    ScaleParams,
)

AT = datetime(2025, 3, 14, 14, 0, tzinfo=UTC)
POLICY = "apiVersion: v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-db\n"


def ev(eid: str, what: EvidenceKind, service: str, finding: str, **attrs: str) -> Evidence:
    return Evidence(
        id=eid,
        kind=what,
        source="test",
        service=service,
        query="q",
        start=AT,
        end=AT,
        finding=finding,
        weight=0.8,
        attributes=attrs,
    )


def change(cid: str, service: str, kind: str, before: str, after: str) -> Evidence:
    return ev(
        f"ev-change-{cid}",
        EvidenceKind.CHANGE,
        service,
        f"{service} {kind} change",
        change_id=cid,
        kind=kind,
        before=before,
        after=after,
    )


def planned(
    fault: FaultType,
    evidence: list[Evidence],
    *,
    service: str = "payments",
    confidence: float = 0.8,
    change_id: str | None = None,
) -> RemediationPlan:
    top = Hypothesis(
        cause=f"{service} broke",
        service=service,
        fault_type=fault,
        confidence=confidence,
        evidence_ids=[e.id for e in evidence],
        change_id=change_id,
    )
    inv = Investigation(
        incident_id=demo_incident().id,
        hypotheses=[top],
        rejected=[],
        evidence=evidence,
        summary="s",
    )
    return plan(PlanInput(incident=demo_incident(), investigation=inv), demo().topology)


ERRORS = ev("ev-log-1", EvidenceKind.LOG, "payments", "new ERROR template: NullPointerException")


def test_each_change_is_taken_back_the_way_it_was_made() -> None:
    deploy = change("c1", "payments", "deploy", "v2.14.0", "v2.15.0")
    got = planned(FaultType.BAD_DEPLOY, [deploy, ERRORS], change_id="c1").action
    assert got is not None
    assert got.params == RollbackParams(
        service="payments", from_version="v2.15.0", to_version="v2.14.0"
    )
    cfg = change(
        "c2", "payments", "config", "configmap/pay:timeout_ms=3000", "configmap/pay:timeout_ms=30"
    )
    got = planned(FaultType.CONFIG_CHANGE, [cfg, ERRORS], change_id="c2").action
    assert got is not None and got.params == ConfigRevertParams(
        service="payments",
        source="configmap",
        name="pay",
        key="timeout_ms",
        from_value="30",
        to_value="3000",
    )
    env = change("c3", "payments", "config", "env:POOL=20", "env:POOL=2")
    got = planned(FaultType.CONFIG_CHANGE, [env], change_id="c3").action
    assert got is not None and isinstance(got.params, ConfigRevertParams)
    assert (got.params.source, got.params.to_value) == ("env", "20")
    flag = change("c4", "payments", "feature_flag", "new-ledger=off", "new-ledger=on")
    got = planned(FaultType.CONFIG_CHANGE, [flag], change_id="c4").action
    assert got is not None
    assert got.params == FeatureFlagParams(flag="new-ledger", from_value=True, to_value=False)
    infra = change("c5", "payments", "infra", "absent", POLICY)
    got = planned(FaultType.NETWORK, [infra], change_id="c5").action
    assert got is not None and isinstance(got.params, InfraRevertParams)
    assert got.params.to_manifest is None and got.params.from_manifest == POLICY


def test_a_network_fault_reverts_a_change_on_the_far_side_of_the_call() -> None:
    # payments calls payments-db; the NetworkPolicy change is on payments-db, uncited.
    infra = change("c6", "payments-db", "infra", "absent", POLICY)
    timeouts = ev("ev-trace-1", EvidenceKind.TRACE, "payments", "calls to payments-db time out")
    result = planned(FaultType.NETWORK, [timeouts], service="payments")
    assert result.action is None  # the change is not in the evidence: nothing to take back
    inv_evidence = [timeouts, infra]
    top = Hypothesis(
        cause="payments cannot reach its database",
        service="payments",
        fault_type=FaultType.NETWORK,
        confidence=0.6,
        evidence_ids=["ev-trace-1"],
    )
    inv = Investigation(
        incident_id=demo_incident().id,
        hypotheses=[top],
        rejected=[],
        evidence=inv_evidence,
        summary="s",
    )
    got = plan(PlanInput(incident=demo_incident(), investigation=inv), demo().topology).action
    assert got is not None and isinstance(got.params, InfraRevertParams)
    assert got.params.service == "payments-db"


@pytest.mark.parametrize(
    ("fault", "finding", "kind"),
    [
        (FaultType.TRAFFIC_SURGE, "request_rate rose 4x", "scale"),
        (FaultType.RESOURCE_EXHAUSTION, "java.lang.OutOfMemoryError: Java heap space", "restart"),
        (FaultType.RESOURCE_EXHAUSTION, "connection pool exhausted", "restart"),
        (FaultType.RESOURCE_EXHAUSTION, "cpu_usage_ratio 0.98 against 0.3", "scale"),
        (FaultType.EXPIRY, "x509: certificate has expired", "restart"),
        (FaultType.DEPENDENCY_DOWN, "connection refused on 5432", "restart"),
    ],
)
def test_restart_and_scale_only_where_the_evidence_says_they_help(
    fault: FaultType, finding: str, kind: str
) -> None:
    got = planned(fault, [ev("ev-m", EvidenceKind.METRIC, "payments", finding)]).action
    assert got is not None and got.params.kind == kind
    assert getattr(got.params, "service", None) == "payments"


@pytest.mark.parametrize(
    ("fault", "finding", "confidence", "why"),
    [
        (FaultType.UNKNOWN, "latency up", 0.8, "does not say what kind of fault"),
        (FaultType.CODE_EXCEPTION, "NullPointerException", 0.8, "the fix is in its code"),
        (FaultType.NETWORK, "latency on the edge", 0.8, "nothing in the catalog repairs"),
        (FaultType.RESOURCE_EXHAUSTION, "disk_used_ratio 0.99", 0.8, "exhausted disk"),
        (FaultType.BAD_DEPLOY, "errors after a deploy", 0.8, "cites no recorded change"),
        (FaultType.TRAFFIC_SURGE, "request_rate rose", 0.1, "too weak to act on"),
    ],
)
def test_no_action_says_why_what_to_check_and_escalates(
    fault: FaultType, finding: str, confidence: float, why: str
) -> None:
    result = planned(
        fault, [ev("ev-m", EvidenceKind.METRIC, "payments", finding)], confidence=confidence
    )
    assert result.action is None and result.alternatives == [] and result.escalate
    assert why in result.rationale
    assert any("ev-m" in c for c in result.checks)
    assert any(c.startswith("runbook for payments: https://") for c in result.checks)


def test_alternatives_are_ranked_with_reasons_and_a_person_can_pick_one() -> None:
    deploy = change("c1", "payments", "deploy", "v2.14.0", "v2.15.0")
    leak = ev("ev-m", EvidenceKind.METRIC, "payments", "memory_usage_ratio climbs: a leak")
    result = planned(FaultType.RESOURCE_EXHAUSTION, [deploy, leak], change_id="c1")
    assert result.action is not None and result.action.params.kind == "rollback"
    assert [a.params for a in result.alternatives] == [RestartParams(service="payments")]
    assert [r.action_id for r in result.alternative_reasons] == [result.alternatives[0].id]
    assert "leak" in result.alternative_reasons[0].reason
    picked = pick(result, 1, by="dana")
    assert picked.action is not None and picked.action.params == RestartParams(service="payments")
    assert CATALOG.problems(picked.action) == []
    assert picked.alternatives == [result.action] and picked.rationale.startswith("dana picked")
    with pytest.raises(ValueError, match="there is no number 2"):
        pick(result, 2, by="dana")
    surge = planned(
        FaultType.RESOURCE_EXHAUSTION,
        [ev("ev-r", EvidenceKind.METRIC, "payments", "request_rate up 3x; OutOfMemoryError")],
    )
    assert surge.action is not None and surge.action.params == ScaleParams(
        service="payments", from_replicas=3, to_replicas=6
    )
    assert [a.params.kind for a in surge.alternatives] == ["restart"]
