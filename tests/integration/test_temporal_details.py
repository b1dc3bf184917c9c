"""The Temporal UI's current details stay current (issue 20 item 8).

The issue saw "1 alert, services payments" for an incident with 3 of each: that was the
static details, fixed at start. The current details now carry the alert count and services as
they are, and change when a person assigns, pauses or resumes the incident.
"""

from __future__ import annotations

import asyncio

from conftest import Stack
from remediation_flow import awaiting, fire
from temporalio.api.sdk.v1 import WorkflowMetadata

from incidentflow.client import IncidentClient
from incidentflow.models import TakeoverRequest
from incidentflow.search import OWNER_KEY, UNASSIGNED
from incidentflow.web.listing import Row, incident_rows, list_page


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


async def listed_owner(stack: Stack, incident_id: str, owner: str) -> Row:
    """The incident's row in the console's list filtered by `owner` (visibility lags a little)."""
    async with asyncio.timeout(30):
        while True:
            rows = await incident_rows(stack.client, {"owner": owner})
            found = [r for r in rows if r.id == incident_id]
            if found:
                return found[0]
            await asyncio.sleep(0.3)


async def test_owner_is_a_search_attribute_the_list_shows_and_filters(stack: Stack) -> None:
    incident_id, _ = await fire(stack)
    await awaiting(stack, incident_id)
    handle = stack.client.get_workflow_handle(incident_id)
    assert (await handle.describe()).typed_search_attributes.get(OWNER_KEY) == UNASSIGNED
    assert (await listed_owner(stack, incident_id, UNASSIGNED)).owner == UNASSIGNED

    await IncidentClient(stack.client).take_over(
        incident_id, "assign", TakeoverRequest(by="dana", text="erin@example.org")
    )
    assert (await handle.describe()).typed_search_attributes.get(OWNER_KEY) == "erin@example.org"
    row = await listed_owner(stack, incident_id, "erin@example.org")
    assert row.owner == "erin@example.org"
    assert incident_id not in {
        r.id for r in await incident_rows(stack.client, {"owner": UNASSIGNED})
    }
    page = list_page([row], {"owner": "erin@example.org"}, identity="dana", csrf="x")
    assert "<th scope='col'>owner</th>" in page and "<td>erin@example.org</td>" in page
