"""Issue 17 items 2-4 on the real dev server: a living plan, approving what you saw, merging.

A firing alert that joins an incident awaiting approval makes it investigate and plan again
(debounced); the person asked is told the plan changed; a decision on the old plan is
refused naming the current one. An incident merged away ends `merged`, its pending decision
cancelled, and nothing of it executes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Stack, app_stack, make_settings
from fakes import Receiver
from flow import wait_for_state
from remediation_flow import fire
from test_ingest_sources import am_alert, am_payload, wait_processed

from incidentflow.cli.moves import merge
from incidentflow.cli.render import record_text
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import (
    Decision,
    DecisionRequest,
    IncidentRecord,
    IncidentState,
    MergeRequest,
    TakeoverRequest,
    TimelineKind,
)
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

WAITING = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}


async def replanned(stack: Stack, incident_id: str, old: str) -> IncidentRecord:
    """The record once a plan other than `old` awaits a decision."""
    for _ in range(300):
        record = await IncidentClient(stack.client).record(incident_id)
        plan = record.plan
        if plan and plan.id != old and record.state is IncidentState.AWAITING_APPROVAL:
            return record
        await asyncio.sleep(0.2)
    raise AssertionError("\n".join(f"{e.actor}: {e.summary}" for e in record.timeline))


@pytest.mark.slow
async def test_a_joining_alert_replans_and_a_decision_on_the_old_plan_is_refused(
    dev_server: DevServer, tmp_path: Path
) -> None:
    with Receiver() as hook:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            reinvestigate_debounce_seconds=1,
            notify_webhook_url=hook.url,
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, _ = await fire(stack)
            first = await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
            assert first.plan is not None and first.plan.id.startswith(f"{incident_id}/plan-")
            assert first.plan.digest and first.plan.digest.startswith("sha256:")
            # A new failure on the origin joins while the plan waits for a decision.
            now = datetime.now(UTC) - timedelta(seconds=5)
            joining = am_alert("PaymentsLatencyHigh", "payments", "firing", now, "fp-late-1")
            assert (await stack.post_alertmanager(am_payload(joining))).status_code == 202
            record = await replanned(stack, incident_id, first.plan.id)
            current = record.plan
            assert current is not None
            with pytest.raises(DecisionRefused, match="no longer current") as refused:
                await IncidentClient(client).decide(
                    incident_id,
                    approve=True,
                    request=DecisionRequest(
                        by="alice", plan_id=first.plan.id, plan_digest=first.plan.digest
                    ),
                )
            assert f"the current plan is {current.id}" in str(refused.value)
            approval = await IncidentClient(client).decide(
                incident_id,
                approve=True,
                request=DecisionRequest(by="alice", plan_id=current.id, plan_digest=current.digest),
            )
            assert approval.decision is Decision.APPROVED and approval.plan_id == current.id
            handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
            final = await asyncio.wait_for(handle.result(), timeout=60)
    # Every version is kept, numbered in order, the current one last.
    ids = [p.id for p in final.plans]
    assert ids == [f"{incident_id}/plan-{n}" for n in range(1, len(ids) + 1)]
    assert len(ids) >= 2 and ids[-1] == current.id and first.plan.id in ids
    assert len(final.investigations) >= 2
    assert current.reason and "joined" in current.reason
    assert any(
        e.kind is TimelineKind.INVESTIGATION and e.summary.startswith("investigating again")
        for e in final.timeline
    )
    assert any(f"replaces {first.plan.id}" in e.summary for e in final.timeline)
    assert final.state is IncidentState.CLOSED and len(final.results) == 1
    # `show` names the plan a decision must name, and which version it is.
    assert f"plan {current.id} (digest {(current.digest or '')[:19]})" in record_text(final)
    # The refused attempt is in the audit with the plan it named.
    refusals = [d for d in final.decisions if d.decision is Decision.REFUSED]
    assert any(d.plan_id == first.plan.id for d in refusals)
    # The person asked about the first plan heard it changed; each ask names its plan.
    bodies = [r["body"] for r in hook.requests]
    changed = [b for b in bodies if b["kind"] == "plan_changed"]
    assert changed and first.plan.id in changed[0]["detail"]
    asks = [b for b in bodies if b["kind"] == "decision_needed"]
    assert asks[0]["plan_id"] == first.plan.id and asks[-1]["plan_id"] == current.id
    assert asks[-1]["plan_digest"] == current.digest


@pytest.mark.slow
async def test_a_merged_away_incident_ends_merged_and_never_acts(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path)
    client = await connect(settings)
    now = datetime.now(UTC) - timedelta(seconds=30)
    a = [am_alert(f"PayErr{i}", "payments", "firing", now, f"fp-a{i}") for i in range(2)]
    # Three hours apart: correlation keeps them apart; a person knows better.
    later = now - timedelta(hours=3)
    b = [am_alert(f"PayLat{i}", "payments", "firing", later, f"fp-b{i}") for i in range(2)]
    async with app_stack(settings, client) as stack:
        assert (await stack.post_alertmanager(am_payload(*a, *b))).status_code == 202
        await wait_processed(client, settings.environment, 4)
        first, second = sorted(
            await IncidentClient(client).open_incidents(settings.environment),
            key=lambda i: i.opened_at,
        )
        waiting = await wait_for_state(client, second.id, WAITING)
        await merge(client, MergeRequest(target=first.id, source=second.id, by="alice"))
        handle = client.get_workflow_handle_for(IncidentWorkflow.run, second.id)
        final = await asyncio.wait_for(handle.result(), timeout=60)
        with pytest.raises(DecisionRefused, match="already ended"):
            await IncidentClient(client).decide(
                second.id, approve=True, request=DecisionRequest(by="bob")
            )
        # Asked again (a re-run after a crash), the merge answers the same, changing nothing.
        target = await IncidentClient(client).record(first.id)
    assert final.state is IncidentState.MERGED and final.merged_into == first.id
    assert final.results == [] and final.approval is None
    assert final.postmortem is None
    assert not any(e.summary.endswith("-> executing") for e in final.timeline)
    assert any("its plan was cancelled" in e.summary for e in final.timeline)
    assert waiting.state in WAITING
    assert any(f"merged in from {second.id}" in e.summary for e in target.timeline)


@pytest.mark.slow
async def test_a_refresh_reads_the_configuration_the_workers_have_now(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path / "data")
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        before = await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
    assert "expires in 30 min" in before.waiting_for
    # The workers restart with a shorter approval window: nothing was frozen into the input.
    changed = settings.replace({"approval_timeout_seconds": 120})
    async with app_stack(changed, client):
        event = await IncidentClient(client).take_over(
            incident_id, "refresh", TakeoverRequest(by="erin")
        )
        assert "approval window 120 s" in event.summary and event.actor == "erin"
        await IncidentClient(client).decide(
            incident_id, approve=False, request=DecisionRequest(by="erin", reason="drill")
        )
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.REJECTED
    assert any("configuration read again" in e.summary for e in final.timeline)
