"""The Temporal UI's current details stay current (issue 20 item 8).

The issue saw "1 alert, services payments" for an incident with 3 of each: that was the
static details, fixed at start. The current details now carry the alert count and services as
they are, and change when a person assigns, pauses or resumes the incident.
"""

from __future__ import annotations

from conftest import Stack
from remediation_flow import awaiting, fire
from temporalio.api.sdk.v1 import WorkflowMetadata

from incidentflow.client import IncidentClient
from incidentflow.models import TakeoverRequest


async def details(stack: Stack, incident_id: str) -> str:
    """What the Temporal UI shows as current details (the SDK's metadata query)."""
    handle = stack.client.get_workflow_handle(incident_id)
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(meta.current_details)


async def test_details_follow_alerts_owner_and_pause(stack: Stack) -> None:
    incident_id, _ = await fire(stack)
    record = await awaiting(stack, incident_id)
    alerts = len(record.incident.alerts) + (record.digest.alerts if record.digest else 0)
    shown = await details(stack, incident_id)
    assert shown.startswith("**awaiting_approval**: waiting for"), shown
    assert f"{alerts} alert(s) · services {', '.join(record.incident.services)}" in shown, shown
    assert "owner" not in shown

    await IncidentClient(stack.client).take_over(
        incident_id, "assign", TakeoverRequest(by="dana", text="erin")
    )
    await IncidentClient(stack.client).take_over(incident_id, "pause", TakeoverRequest(by="erin"))
    shown = await details(stack, incident_id)
    assert "(paused by erin)" in shown and "owner erin" in shown, shown
    await IncidentClient(stack.client).take_over(incident_id, "resume", TakeoverRequest(by="erin"))
    assert "paused" not in await details(stack, incident_id)
