"""Issue 18 item 4 on the real dev server: a person picks a ranked alternative instead.

The agent plans from a person's investigation whose evidence shows a deploy and a leak: a
rollback first, a restart as alternative 1 with its reason. Picking it goes through the
workflow's override check; the new action is what gets approved and executed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from conftest import Stack
from remediation_flow import awaiting, fire

from incidentflow.agents.remediation import pick
from incidentflow.client import IncidentClient
from incidentflow.models import (
    DecisionRequest,
    Evidence,
    EvidenceKind,
    FaultType,
    Hypothesis,
    IncidentState,
    Investigation,
    OverrideRequest,
    RestartParams,
    RollbackParams,
    Stage,
)
from workflows.incident import IncidentWorkflow


def _evidence(at: datetime) -> list[Evidence]:
    common = {"source": "person", "service": "checkout", "start": at, "end": at, "weight": 0.9}
    return [
        Evidence(
            id="ev-person-deploy",
            kind=EvidenceKind.CHANGE,
            query="changes{service='checkout'}",
            finding="checkout deploy v3.0.0 -> v3.1.0 six minutes before the first alert",
            attributes={
                "change_id": "chg-person-1",
                "kind": "deploy",
                "before": "v3.0.0",
                "after": "v3.1.0",
            },
            **common,  # type: ignore[arg-type]
        ),
        Evidence(
            id="ev-person-heap",
            kind=EvidenceKind.LOG,
            query="{service='checkout'} |= OutOfMemoryError",
            finding="java.lang.OutOfMemoryError: Java heap space, 40 a minute",
            **common,  # type: ignore[arg-type]
        ),
    ]


async def test_a_person_picks_alternative_one_and_it_is_what_runs(stack: Stack) -> None:
    incident_id, _ = await fire(stack)
    record = await awaiting(stack, incident_id)
    evidence = _evidence(record.incident.opened_at)
    mine = Investigation(
        incident_id=incident_id,
        hypotheses=[
            Hypothesis(
                cause="checkout v3.1.0 leaks memory",
                service="checkout",
                fault_type=FaultType.RESOURCE_EXHAUSTION,
                confidence=0.8,
                evidence_ids=[e.id for e in evidence],
                change_id="chg-person-1",
            )
        ],
        rejected=[],
        evidence=evidence,
        summary="a person's investigation",
    )
    client = stack.client
    await IncidentClient(client).take_over(
        incident_id,
        "override",
        OverrideRequest(by="dana", stage=Stage.INVESTIGATION, investigation=mine),
    )
    async with asyncio.timeout(30):
        while True:
            record = await IncidentClient(client).record(incident_id)
            plan = record.plan
            if (
                record.state is IncidentState.AWAITING_APPROVAL
                and plan is not None
                and plan.action is not None
                and plan.action.params.kind == "rollback"
                and plan.alternatives
            ):
                break
            await asyncio.sleep(0.2)
    assert plan.action is not None and plan.action.params == RollbackParams(
        service="checkout", from_version="v3.1.0", to_version="v3.0.0"
    )
    assert [a.params for a in plan.alternatives] == [RestartParams(service="checkout")]
    assert "leak" in plan.alternative_reasons[0].reason
    with pytest.raises(ValueError, match="no number 2"):
        pick(plan, 2, by="dana")
    picked = pick(plan, 1, by="dana")
    await IncidentClient(client).take_over(
        incident_id,
        "override",
        OverrideRequest(by="dana", stage=Stage.PLANNING, plan=picked, reason="restart first"),
    )
    async with asyncio.timeout(30):
        while True:
            record = await IncidentClient(client).record(incident_id)
            action = record.plan.action if record.plan else None
            if action is not None and action.params == RestartParams(service="checkout"):
                break
            await asyncio.sleep(0.2)
    await IncidentClient(client).decide(
        incident_id, approve=True, request=DecisionRequest(by="dana")
    )
    final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    (result,) = final.results
    assert any("rollout restart deployment/checkout" in op for op in result.would_run)
    assert not any("rollout undo" in op for op in result.would_run)
