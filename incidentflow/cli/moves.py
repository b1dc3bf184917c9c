"""Merge and split incidents: updates on both incident workflows, then the stream's index."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from incidentflow.agents.splitting import split_incident, split_incident_id
from incidentflow.client import RPC_TIMEOUT, IncidentClient
from incidentflow.context import build_context
from incidentflow.errors import DecisionRefused, TemporalUnavailable
from incidentflow.models import (
    CorrelationResult,
    Incident,
    IncidentInput,
    IncidentMoved,
    MergeRequest,
    SplitRequest,
)
from incidentflow.settings import Settings
from workflows.incident import IncidentWorkflow
from workflows.incident_start import incident_start_fields
from workflows.names import INCIDENT_MOVED_SIGNAL, stream_workflow_id


async def merge(client: Client, req: MergeRequest) -> int:
    """Merge `req.source` into `req.target`; returns the target's alert count afterwards."""
    record = await IncidentClient(client).record(req.target)
    source, _ = await IncidentClient(client).handle(req.source)
    target, _ = await IncidentClient(client).handle(req.target)
    ask = IncidentMoved(
        incident_id=req.source,
        other_id=req.target,
        by=req.by,
        reason=req.reason,
        kind="merged_into",
    )
    try:
        moved = await source.execute_update(
            IncidentWorkflow.merge_into, ask, rpc_timeout=RPC_TIMEOUT
        )
        count = await target.execute_update(
            IncidentWorkflow.absorb,
            moved.model_copy(
                update={"incident_id": req.target, "other_id": req.source, "kind": "merged_from"}
            ),
            rpc_timeout=RPC_TIMEOUT,
        )
        stream = client.get_workflow_handle(stream_workflow_id(record.incident.environment))
        await stream.signal(INCIDENT_MOVED_SIGNAL, moved, rpc_timeout=RPC_TIMEOUT)
        await stream.signal(
            INCIDENT_MOVED_SIGNAL,
            moved.model_copy(
                update={"incident_id": req.target, "other_id": req.source, "kind": "merged_from"}
            ),
            rpc_timeout=RPC_TIMEOUT,
        )
    except WorkflowUpdateFailedError as err:
        raise DecisionRefused(getattr(err.cause, "message", None) or str(err)) from err
    except RPCError as err:
        raise TemporalUnavailable(f"the merge was not delivered ({err.message})") from err
    return count


@dataclass(frozen=True)
class SplitDone:
    """What `split` did: the new incident, and whether this run opened it."""

    source: str
    incident: Incident
    moved: IncidentMoved
    opened: bool


async def split(client: Client, settings: Settings, req: SplitRequest) -> SplitDone:
    """Move `req.fingerprints` out of `req.incident_id` into a new incident of their own.

    Each step can be repeated: the new id is derived from the source and the fingerprints,
    the source answers the same split again with the alerts it moved, and Temporal refuses to
    start the same incident twice. So running the command again after a crash finishes the
    split, and running it after a success changes nothing.
    """
    handle, status = await IncidentClient(client).handle(req.incident_id)
    if status != WorkflowExecutionStatus.RUNNING:
        raise DecisionRefused(
            f"{req.incident_id} has already ended; alerts are split off open incidents only "
            f"(`incidentflow incidents` lists them)"
        )
    record = await IncidentClient(client).record(req.incident_id)
    # Read the rules and the graph before anything moves: a bad setting changes nothing.
    ctx = await asyncio.to_thread(build_context, settings)
    fingerprints = sorted(set(req.fingerprints))
    new_id = split_incident_id(req.incident_id, record.incident.opened_at, fingerprints)
    ask = req.model_copy(update={"fingerprints": fingerprints, "into": new_id})
    try:
        moved = await handle.execute_update(
            IncidentWorkflow.split_out, ask, rpc_timeout=RPC_TIMEOUT
        )
    except WorkflowUpdateFailedError as err:
        raise DecisionRefused(getattr(err.cause, "message", None) or str(err)) from err
    except RPCError as err:
        raise TemporalUnavailable(
            f"the split of {req.incident_id} may not have arrived ({err.message}); run the same "
            "command again: it finishes a split or changes nothing"
        ) from err
    environment = record.incident.environment
    made = split_incident(
        moved,
        incident_id=new_id,
        environment=environment,
        graph=await ctx.graph_for(moved.alerts),
        rules=ctx.rules,
        at=datetime.now(UTC),
    )
    arrived = moved.model_copy(
        update={
            "incident_id": new_id,
            "other_id": req.incident_id,
            "kind": "split_from",
            "services": made.incident.services,
        }
    )
    inp = IncidentInput(
        incident=made.incident,
        detections=made.detections,
        correlation=CorrelationResult(new_incidents=[made.incident]),
        stream_workflow_id=stream_workflow_id(environment),
        agent_queue=settings.temporal.agent_queue,
        remediation_queue=settings.temporal.remediation_queue,
        # The alerts ride in `incident` once; the record of the move needs only who and why.
        split_from=arrived.model_copy(update={"alerts": []}),
    )
    try:
        opened = await _start_split(client, inp, settings.temporal.workflow_queue)
        # After the start: the stream may signal the new incident as soon as it knows it. A
        # repeat whose incident has already ended tells the stream nothing: it forgot that
        # incident when it closed and must not route alerts to it again.
        if opened or await _still_open(client, new_id):
            stream = client.get_workflow_handle(stream_workflow_id(environment))
            await stream.signal(INCIDENT_MOVED_SIGNAL, moved, rpc_timeout=RPC_TIMEOUT)
            await stream.signal(INCIDENT_MOVED_SIGNAL, arrived, rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        raise TemporalUnavailable(
            f"the split of {req.incident_id} stopped half-way ({err.message}); run the same "
            "command again to finish it"
        ) from err
    return SplitDone(source=req.incident_id, incident=made.incident, moved=moved, opened=opened)


async def _start_split(client: Client, inp: IncidentInput, task_queue: str) -> bool:
    """Start the new incident; False when an earlier run of the same split already did."""
    try:
        await client.start_workflow(
            IncidentWorkflow.run,
            inp,
            id=inp.incident.id,
            task_queue=task_queue,
            rpc_timeout=RPC_TIMEOUT,
            **incident_start_fields(inp.incident),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def _still_open(client: Client, incident_id: str) -> bool:
    desc = await client.get_workflow_handle(incident_id).describe(rpc_timeout=RPC_TIMEOUT)
    return desc.status == WorkflowExecutionStatus.RUNNING
