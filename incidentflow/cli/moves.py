"""Merge and split incidents: updates on both incident workflows, then the stream's index."""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from incidentflow.cli.ops import RPC_TIMEOUT, _handle, get_record
from incidentflow.errors import DecisionRefused, TemporalUnavailable
from incidentflow.models import IncidentMoved, MergeRequest
from workflows.incident import IncidentWorkflow
from workflows.names import INCIDENT_MOVED_SIGNAL, stream_workflow_id


async def merge(client: Client, req: MergeRequest) -> int:
    """Merge `req.source` into `req.target`; returns the target's alert count afterwards."""
    record = await get_record(client, req.target)
    source, _ = await _handle(client, req.source)
    target, _ = await _handle(client, req.target)
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
