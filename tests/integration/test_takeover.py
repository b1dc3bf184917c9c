"""A person takes the wheel on the real dev server: pause, override, skip, note, assign."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from conftest import Stack, app_stack, make_settings
from drills import slow_config, slow_investigation
from flow import wait_for_state
from remediation_flow import awaiting, fire

import worker
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import (
    DecisionRequest,
    Engine,
    Evidence,
    EvidenceKind,
    FaultType,
    Hypothesis,
    IncidentState,
    Investigation,
    OverrideRequest,
    RestartParams,
    Stage,
    StageRequest,
    TakeoverRequest,
    TimelineKind,
)
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow


def person_investigation(incident_id: str, at: datetime) -> Investigation:
    """A person's own finding: a connection pool leak in checkout, with its evidence."""
    ev = Evidence(
        id="ev-person-1",
        kind=EvidenceKind.METRIC,
        source="person",
        service="checkout",
        query="db_pool_in_use{service='checkout'}",
        start=at,
        end=at,
        finding="checkout's DB pool is pinned at 100% since 14:02",
        weight=0.9,
    )
    top = Hypothesis(
        cause="checkout leaks DB connections",
        service="checkout",
        fault_type=FaultType.RESOURCE_EXHAUSTION,
        confidence=0.8,
        evidence_ids=["ev-person-1"],
    )
    return Investigation(
        incident_id=incident_id,
        hypotheses=[top],
        rejected=[],
        evidence=[ev],
        summary="a person's investigation",
    )


async def test_override_investigation_then_pipeline_continues_from_it(stack: Stack) -> None:
    incident_id, _ = await fire(stack)
    record = await awaiting(stack, incident_id)
    assert record.plan is not None and record.plan.action is not None
    assert record.plan.action.params.kind == "rollback"
    client = stack.client
    bad = person_investigation("INC-20000101-000000", record.incident.opened_at)
    with pytest.raises(DecisionRefused, match="is for INC-20000101-000000"):
        await IncidentClient(client).take_over(
            incident_id,
            "override",
            OverrideRequest(by="dana", stage=Stage.INVESTIGATION, investigation=bad),
        )
    mine = person_investigation(incident_id, record.incident.opened_at)
    await IncidentClient(client).take_over(
        incident_id,
        "override",
        OverrideRequest(by="dana", stage=Stage.INVESTIGATION, investigation=mine, reason="pool"),
    )
    async with asyncio.timeout(30):
        while True:
            record = await IncidentClient(client).record(incident_id)
            action = record.plan.action if record.plan else None
            if (
                record.state is IncidentState.AWAITING_APPROVAL
                and action
                and action.params == (RestartParams(service="checkout"))
            ):
                break
            await asyncio.sleep(0.2)
    # The remediation agent planned from the person's investigation, which is marked as theirs.
    assert record.investigation is not None and record.investigation.engine is Engine.PERSON
    assert record.investigation.top is not None
    assert record.investigation.top.service == "checkout"
    assert record.plan is not None and "ev-person-1" in record.plan.evidence_ids
    await IncidentClient(client).decide(
        incident_id,
        approve=False,
        request=DecisionRequest(by="dana", reason="restarting by hand"),
    )
    final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.REJECTED
    assert any(e.kind is TimelineKind.TAKEOVER and e.actor == "dana" for e in final.timeline)


async def test_pause_holds_the_gate_and_skip_note_assign_resolve(
    dev_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "InvestigationActivities", slow_investigation(2))
    settings = make_settings(dev_server.address, tmp_path / "data")
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        # Pause while investigating: the gate before planning holds.
        await wait_for_state(client, incident_id, {IncidentState.INVESTIGATING})
        await IncidentClient(client).take_over(incident_id, "pause", _req("erin", "look"))
        with pytest.raises(DecisionRefused, match="already paused"):
            await IncidentClient(client).take_over(incident_id, "pause", _req("x"))
        await asyncio.sleep(4)
        held = await IncidentClient(client).record(incident_id)
        assert held.paused and held.investigation is not None and held.plan is None
        assert "paused by erin before planning" in held.waiting_for
        await IncidentClient(client).take_over(incident_id, "assign", _req("erin", "team-payments"))
        await IncidentClient(client).take_over(incident_id, "note", _req("erin", "DB team looking"))
        await IncidentClient(client).take_over(
            incident_id,
            "skip",
            StageRequest(by="erin", stage=Stage.PLANNING, reason="fixing by hand"),
        )
        with pytest.raises(DecisionRefused, match="only a failed stage"):
            await IncidentClient(client).take_over(
                incident_id,
                "retry",
                StageRequest(by="erin", stage=Stage.INVESTIGATION),
            )
        await IncidentClient(client).take_over(incident_id, "resume", _req("erin"))
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.CLOSED
    assert final.plan is None and final.results == []
    assert final.owner == "team-payments"
    notes = [e for e in final.timeline if e.kind is TimelineKind.NOTE]
    assert [(n.actor, n.summary) for n in notes] == [("erin", "DB team looking")]
    assert final.postmortem is not None and "DB team looking" in final.postmortem.markdown


# Long enough that the attempts below surely arrive first, even on a loaded machine.
CONFIG_DELAY_S = 6


async def test_a_takeover_before_the_configuration_is_judged_against_it(
    dev_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configuration allows local unsigned decisions; the default refuses them. A pause
    (update) and an assign (signal) sent at once, while the configuration is still being read,
    wait for it and count, instead of being refused by the default."""
    monkeypatch.setattr(worker, "RemediationActivities", slow_config(CONFIG_DELAY_S))
    settings = make_settings(dev_server.address, tmp_path / "data")
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        handle = client.get_workflow_handle(incident_id)
        await handle.signal("assign", TakeoverRequest(by="erin", text="team-payments"))
        event = await IncidentClient(client).take_over(incident_id, "pause", _req("erin", "look"))
        assert event.summary == "paused: look"
        record = await IncidentClient(client).record(incident_id)
        assert record.paused and record.owner == "team-payments"
        assert [d.reason for d in record.decisions] == []
        # Both arrived before the configuration activity had answered.
        events = [e async for e in handle.fetch_history_events()]
        config_done = next(
            i
            for i, e in enumerate(events)
            if e.HasField("activity_task_completed_event_attributes")
            and events[
                e.activity_task_completed_event_attributes.scheduled_event_id - 1
            ].activity_task_scheduled_event_attributes.activity_type.name
            == "incident_config"
        )
        signalled = next(
            i
            for i, e in enumerate(events)
            if e.workflow_execution_signaled_event_attributes.signal_name == "assign"
        )
        accepted = next(
            i
            for i, e in enumerate(events)
            if e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            == "pause"
        )
        assert signalled < config_done and accepted < config_done
        await IncidentClient(client).take_over(incident_id, "resolve", _req("erin", "done"))
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.CLOSED
    assert not any(d.decision.value == "refused" for d in final.decisions)


def _req(by: str, text: str = "") -> TakeoverRequest:
    return TakeoverRequest(by=by, text=text)
