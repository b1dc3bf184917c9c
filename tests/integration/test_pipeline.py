"""The spine end to end on the real dev server: webhook, five agents, approval, post-mortem."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import Stack, app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state

from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused, IncidentNotFound
from incidentflow.executors import Ledger
from incidentflow.models import (
    Decision,
    DecisionRequest,
    FaultType,
    IncidentRecord,
    IncidentState,
    RollbackParams,
    TimelineKind,
)
from incidentflow.search import SERVICE_KEY, SEVERITY_KEY, STATE_KEY
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

WAITING = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}


async def fire_demo(stack: Stack) -> str:
    payloads = demo_payloads()
    for payload in payloads:
        resp = await stack.post_alertmanager(payload)
        assert resp.status_code == 202, resp.text
    return await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )


async def test_demo_incident_travels_all_five_agents(stack: Stack) -> None:
    incident_id = await fire_demo(stack)
    assert incident_id.startswith("INC-") and len(incident_id.split("-")) == 3
    record = await wait_for_state(stack.client, incident_id, WAITING)
    assert record.state is IncidentState.AWAITING_APPROVAL, record.timeline

    inc = record.incident
    # Correlation: one incident for the burst, origin the deployed service, upstream flagged.
    assert inc.origin_service == DEMO_ORIGIN
    assert {"payments", "checkout", "api-gateway"} <= set(inc.services)
    assert all(a.name != "HostDiskWillFillIn24Hours" for a in inc.alerts)
    assert inc.downstream, "upstream alerts must be flagged as downstream of the origin"
    for d in inc.downstream:
        assert d.path and d.path[-1].callee == DEMO_ORIGIN
    # Investigation: the deploy first, with change, log and metric evidence cited.
    inv = record.investigation
    assert inv is not None and inv.top is not None
    assert inv.top.service == DEMO_ORIGIN
    assert inv.top.fault_type is FaultType.BAD_DEPLOY
    cited = {e.id: e for e in inv.evidence if e.id in inv.top.evidence_ids}
    assert {e.kind.value for e in cited.values()} >= {"change", "log", "metric"}
    assert inv.rejected
    # Remediation: rollback to the previous version, with verification and undo.
    plan = record.plan
    assert plan is not None and plan.action is not None
    params = plan.action.params
    assert isinstance(params, RollbackParams) and params.service == DEMO_ORIGIN
    change = next(e for e in cited.values() if e.kind.value == "change")
    assert params.to_version == change.attributes["before"]
    assert isinstance(plan.action.undo, RollbackParams)
    assert plan.action.undo.to_version == change.attributes["after"]

    # The Temporal UI view: search attributes kept current.
    desc = await stack.client.get_workflow_handle(incident_id).describe()
    attrs = desc.typed_search_attributes
    assert attrs.get(STATE_KEY) == "awaiting_approval"
    assert attrs.get(SERVICE_KEY) == DEMO_ORIGIN
    assert attrs.get(SEVERITY_KEY) == inc.severity.value
    rows = await IncidentClient(stack.client).list_incidents()
    assert incident_id in {r.id for r in rows}

    # A reject without reason is refused; approve once; a second decision is refused.
    with pytest.raises(DecisionRefused, match="needs a reason"):
        await IncidentClient(stack.client).decide(
            incident_id, approve=False, request=DecisionRequest(by="bob")
        )
    approval = await IncidentClient(stack.client).decide(
        incident_id,
        approve=True,
        request=DecisionRequest(by="alice", reason="deploy is the cause"),
    )
    assert approval.decision is Decision.APPROVED and approval.by == "alice"
    with pytest.raises(DecisionRefused, match="already approved by alice"):
        await IncidentClient(stack.client).decide(
            incident_id, approve=True, request=DecisionRequest(by="carol")
        )

    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    final: IncidentRecord = await handle.result()
    assert final.state is IncidentState.CLOSED
    assert len(final.results) == 1
    result = final.results[0]
    assert result.dry_run and result.executor == "dry-run"
    assert any(params.to_version in op for op in result.would_run)
    ledger = Ledger(stack.settings.remediation_dir / "ledger.sqlite")
    assert ledger.count() == 1

    # The post-mortem lists every event recorded before it was drafted, in order.
    assert final.postmortem is not None
    md = final.postmortem.markdown
    timeline_md = md[md.index("## Timeline") :]
    drafted_at = next(i for i, e in enumerate(final.timeline) if e.kind is TimelineKind.POSTMORTEM)
    positions = []
    for event in final.timeline[:drafted_at]:
        pos = timeline_md.find(event.summary, positions[-1] + 1 if positions else 0)
        assert pos >= 0, f"post-mortem misses, or misorders: {event.summary}"
        positions.append(pos)
    assert len(positions) >= 15


async def test_rejected_plan_executes_nothing(stack: Stack) -> None:
    incident_id = await fire_demo(stack)
    await wait_for_state(stack.client, incident_id, WAITING)
    await IncidentClient(stack.client).decide(
        incident_id,
        approve=False,
        request=DecisionRequest(by="bob", reason="freeze in force"),
    )
    final = await stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.REJECTED
    assert final.approval is not None and final.approval.reason == "freeze in force"
    assert final.results == []
    assert not (stack.settings.remediation_dir / "ledger.sqlite").exists() or (
        Ledger(stack.settings.remediation_dir / "ledger.sqlite").count() == 0
    )


async def test_unknown_incident_is_refused(stack: Stack) -> None:
    with pytest.raises(IncidentNotFound, match="incidentflow incidents"):
        await IncidentClient(stack.client).decide(
            "INC-20000101-000000", approve=True, request=DecisionRequest(by="x")
        )


async def test_approval_window_expires_and_nothing_executes(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path, approval_timeout_seconds=2)
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id = await fire_demo(stack)
        handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
        final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.state is IncidentState.EXPIRED
    assert final.approval is not None and final.approval.decision is Decision.EXPIRED
    assert final.approval.by == "system"
    assert final.results == []
    with pytest.raises(DecisionRefused, match="already ended"):
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="late")
        )
