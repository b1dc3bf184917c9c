"""One incident's fate never hurts its stream (issues 13 and 14): every alert is counted.

Against the real dev server: an incident that is cancelled, terminated or reset, and the same
alert firing again after its incident closed. Each case then sends more alerts and checks the
stream is still running, processed every alert it answered 202 for, and put them somewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Stack, app_stack, make_settings
from drills import slow_investigation
from remediation_flow import until
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus
from test_ingest_sources import am_alert, am_payload, stream_stats, wait_processed

import worker
from incidentflow.client import IncidentClient
from incidentflow.models import GoneIncident, IncidentState, OpenIncident, TakeoverRequest
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow
from workflows.names import stream_workflow_id

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)


async def send(stack: Stack, name: str, fp: str, *, note: str = "") -> None:
    alert = am_alert(name, "payments", "firing", START, fp)
    if note:  # a new delivery of the same alert: another body, so another batch id
        alert["annotations"] = {"summary": f"{name} on payments ({note})"}
    resp = await stack.post_alertmanager(am_payload(alert))
    assert resp.status_code == 202, resp.text


async def open_with(stack: Stack, fp: str, *, other_than: str = "") -> OpenIncident:
    found: list[OpenIncident] = []

    async def ready() -> bool:
        found[:] = [
            o
            for o in await IncidentClient(stack.client).open_incidents(stack.settings.environment)
            if fp in o.fingerprints and o.id != other_than
        ]
        return bool(found)

    await until(ready)
    return found[0]


async def status_of(stack: Stack, workflow_id: str) -> WorkflowExecutionStatus | None:
    return (await stack.client.get_workflow_handle(workflow_id).describe()).status


async def gone(stack: Stack) -> list[GoneIncident]:
    handle = stack.client.get_workflow_handle(stream_workflow_id(stack.settings.environment))
    return await handle.query("gone", result_type=list[GoneIncident])


async def check_stream_whole(stack: Stack, alerts: int) -> None:
    stats = await wait_processed(stack.client, stack.settings.environment, alerts)
    assert stats.alerts_received == stats.alerts_processed == alerts, stats
    assert stats.alerts_quarantined == 0
    stream = stream_workflow_id(stack.settings.environment)
    assert await status_of(stack, stream) == WorkflowExecutionStatus.RUNNING


async def record_alerts(stack: Stack, incident_id: str) -> set[str]:
    record = await IncidentClient(stack.client).record(incident_id)
    return {a.fingerprint for a in record.incident.alerts}


@pytest.fixture
async def slow_stack(
    dev_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    """Workers whose investigation stays open 30 s: a stop lands while an agent works."""
    monkeypatch.setattr(worker, "InvestigationActivities", slow_investigation(30.0))
    settings = make_settings(dev_server.address, tmp_path / "data")
    async with app_stack(settings, await connect(settings)) as running:
        yield running


@pytest.mark.parametrize("fate", ["cancel", "terminate"])
async def test_alerts_for_an_ended_incident_open_a_new_one(slow_stack: Stack, fate: str) -> None:
    stack = slow_stack
    await send(stack, "PaymentsDown", "fp-a")
    first = await open_with(stack, "fp-a")
    handle = stack.client.get_workflow_handle(first.id)

    async def investigating() -> bool:
        rec = await IncidentClient(stack.client).record(first.id)
        return rec.state is IncidentState.INVESTIGATING

    await until(investigating)
    if fate == "cancel":
        await handle.cancel()
        ended = WorkflowExecutionStatus.CANCELED
    else:
        await handle.terminate(reason="an operator's test")
        ended = WorkflowExecutionStatus.TERMINATED

    async def has_ended() -> bool:
        return await status_of(stack, first.id) == ended

    await until(has_ended)
    # Correlation joins this alert to the ended incident (still in the stream's index): the
    # signal fails, and the alert goes round again into a new incident.
    await send(stack, "PaymentsLatency", "fp-b")
    second = await open_with(stack, "fp-b", other_than=first.id)
    await check_stream_whole(stack, 2)
    assert second.id != first.id
    assert "fp-b" in await record_alerts(stack, second.id)
    stats = await stream_stats(stack.client, stack.settings.environment)
    assert stats.alerts_after_end == 1 and stats.incidents_gone == 1
    assert [g.incident_id for g in await gone(stack)] == [first.id]
    open_ids = {
        o.id for o in await IncidentClient(stack.client).open_incidents(stack.settings.environment)
    }
    assert first.id not in open_ids
    # `incidents` says what happened to it, not the state it was in when it was stopped.
    rows = {r.id: r for r in await IncidentClient(stack.client).list_incidents()}
    assert rows[first.id].state == ("cancelled" if fate == "cancel" else "terminated")


async def test_a_reset_incident_keeps_receiving_alerts(stack: Stack) -> None:
    await send(stack, "PaymentsDown", "fp-a")
    first = await open_with(stack, "fp-a")
    handle = stack.client.get_workflow_handle(first.id)
    history = await handle.fetch_history()
    task_done = next(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    before = (await handle.describe()).run_id
    await stack.client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=stack.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=first.id),
            reason="an operator's test",
            workflow_task_finish_event_id=task_done,
            request_id=f"reset-{first.id}",
        )
    )
    assert (await handle.describe()).run_id != before
    await send(stack, "PaymentsLatency", "fp-b")
    await check_stream_whole(stack, 2)

    async def joined() -> bool:
        return "fp-b" in await record_alerts(stack, first.id)

    await until(joined)
    stats = await stream_stats(stack.client, stack.settings.environment)
    assert stats.incidents_opened == 1 and stats.incidents_gone == 0


async def test_a_recurrence_after_close_opens_a_new_incident(stack: Stack) -> None:
    await send(stack, "PaymentsDown", "fp-a")
    first = await open_with(stack, "fp-a")

    async def configured() -> bool:
        # A person decides once the incident has read its configuration (who is believed):
        # the agents have answered by then.
        record = await IncidentClient(stack.client).record(first.id)
        return record.investigation is not None

    await until(configured)
    await IncidentClient(stack.client).take_over(
        first.id, "resolve", TakeoverRequest(by="erin", text="ok")
    )
    final = await stack.client.get_workflow_handle_for(IncidentWorkflow.run, first.id).result()
    assert final.state is IncidentState.CLOSED

    async def forgotten() -> bool:
        open_now = await IncidentClient(stack.client).open_incidents(stack.settings.environment)
        return all(o.id != first.id for o in open_now)

    await until(forgotten)
    # The same alert (same fingerprint, same day) fires again: correlation names the same
    # incident, whose id is taken for good; the recurrence gets the next one.
    await send(stack, "PaymentsDown", "fp-a", note="again")
    second = await open_with(stack, "fp-a", other_than=first.id)
    assert second.id == f"{first.id}-2"
    # A related alert joins the recurrence, not the closed incident.
    await send(stack, "PaymentsLatency", "fp-c")

    async def joined() -> bool:
        return "fp-c" in await record_alerts(stack, second.id)

    await until(joined)
    await check_stream_whole(stack, 3)
    stats = await stream_stats(stack.client, stack.settings.environment)
    assert stats.incidents_opened == 2 and stats.alerts_joined == 1
