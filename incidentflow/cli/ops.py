"""What the CLI asks of Temporal: list, read, decide. Errors come back as one actionable line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from incidentflow.errors import DecisionRefused, IncidentNotFound, TemporalUnavailable
from incidentflow.models import (
    Approval,
    DecisionRequest,
    GoneIncident,
    IncidentRecord,
    IncidentState,
    OpenIncident,
    QuarantinedAlerts,
    StreamStats,
    TimelineEvent,
)
from incidentflow.search import SERVICE_KEY, SEVERITY_KEY, STATE_KEY
from workflows.incident import IncidentWorkflow
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow

# A query or update waits for a worker; a dead worker should be reported, not waited on forever.
RPC_TIMEOUT = timedelta(seconds=15)


@dataclass(frozen=True)
class IncidentRow:
    """One line of `incidentflow incidents`."""

    id: str
    state: str
    severity: str
    service: str
    title: str
    started: datetime
    status: str

    @property
    def age(self) -> timedelta:
        """Time since the incident workflow started."""
        return datetime.now(UTC) - self.started


# How an incident stopped from outside its own code (the Temporal UI, `temporal workflow ...`)
# shows in `incidents`: its state attribute still says where it was when it was stopped.
STOPPED = {
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}


async def list_incidents(client: Client, *, limit: int = 50) -> list[IncidentRow]:
    """Incidents newest first, from Temporal visibility (no worker needed)."""
    rows: list[IncidentRow] = []
    try:
        async for wf in client.list_workflows(
            "WorkflowType = 'IncidentWorkflow'", limit=limit, rpc_timeout=RPC_TIMEOUT
        ):
            attrs = wf.typed_search_attributes
            memo = await wf.memo()
            rows.append(
                IncidentRow(
                    id=wf.id,
                    state=STOPPED.get(wf.status or WorkflowExecutionStatus.RUNNING)
                    or attrs.get(STATE_KEY)
                    or "?",
                    severity=attrs.get(SEVERITY_KEY) or "?",
                    service=attrs.get(SERVICE_KEY) or "?",
                    title=str(memo.get("title", "")),
                    started=wf.start_time,
                    status=wf.status.name.lower() if wf.status else "unknown",
                )
            )
    except RPCError as err:
        raise TemporalUnavailable(f"cannot list incidents: {err.message}") from err
    return sorted(rows, key=lambda r: r.started, reverse=True)


async def _handle(
    client: Client, incident_id: str
) -> tuple[WorkflowHandle[IncidentWorkflow, IncidentRecord], WorkflowExecutionStatus | None]:
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    try:
        desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise IncidentNotFound(
                f"no incident {incident_id}: list them with `incidentflow incidents`"
            ) from err
        raise TemporalUnavailable(f"cannot read {incident_id}: {err.message}") from err
    return handle, desc.status


async def get_record(client: Client, incident_id: str) -> IncidentRecord:
    """The incident's full record: its result when finished, a query while it runs."""
    handle, status = await _handle(client, incident_id)
    if status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result(rpc_timeout=RPC_TIMEOUT)
    if status != WorkflowExecutionStatus.RUNNING:
        raise IncidentNotFound(
            f"{incident_id} ended as {status.name.lower() if status else 'unknown'}; "
            "its history is in the Temporal UI"
        )
    try:
        return await handle.query(IncidentWorkflow.record, rpc_timeout=RPC_TIMEOUT)
    except WorkflowQueryFailedError as err:
        raise TemporalUnavailable(f"{incident_id} could not answer: {err}") from err
    except RPCError as err:
        raise TemporalUnavailable(
            f"no worker answered for {incident_id} ({err.message}): is `incidentflow up` "
            "or `python worker.py` running?"
        ) from err


async def decide(
    client: Client, incident_id: str, *, approve: bool, request: DecisionRequest
) -> Approval:
    """Approve or reject through the validated update; refusals become DecisionRefused."""
    handle, status = await _handle(client, incident_id)
    if status == WorkflowExecutionStatus.COMPLETED:
        record = await handle.result(rpc_timeout=RPC_TIMEOUT)
        if record.state is IncidentState.RESOLVED:
            raise DecisionRefused(
                f"{incident_id} resolved on its own: every alert resolved before approval, so "
                "its plan was withdrawn and nothing will run"
            )
    if status != WorkflowExecutionStatus.RUNNING:
        raise DecisionRefused(
            f"{incident_id} has already ended; see `incidentflow show {incident_id}`"
        )
    update = IncidentWorkflow.approve if approve else IncidentWorkflow.reject
    if request.plan_id is None and request.plan_digest is None and request.proof is None:
        # A caller that named no plan decides on the one pending now, read just before.
        plan = (await get_record(client, incident_id)).plan
        if plan is not None:
            request = request.model_copy(update={"plan_id": plan.id, "plan_digest": plan.digest})
    try:
        return await handle.execute_update(update, request, rpc_timeout=RPC_TIMEOUT)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = getattr(cause, "message", None) or str(cause or err)
        raise DecisionRefused(message) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise DecisionRefused(f"{incident_id} ended before the decision arrived") from err
        raise TemporalUnavailable(
            f"the decision was not delivered ({err.message}): is a worker running?"
        ) from err


async def open_incidents(client: Client, partition: str) -> list[OpenIncident]:
    """The stream's open-incident index for a partition (empty if the stream never started)."""
    handle = client.get_workflow_handle_for(AlertStreamWorkflow.run, stream_workflow_id(partition))
    try:
        return await handle.query(AlertStreamWorkflow.open_incidents, rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return []
        raise TemporalUnavailable(f"cannot read the alert stream: {err.message}") from err


async def stream_record(
    client: Client, partition: str
) -> tuple[StreamStats, list[QuarantinedAlerts], list[GoneIncident]]:
    """A stream's counters, the rounds it quarantined and the incidents it found ended."""
    handle = client.get_workflow_handle_for(AlertStreamWorkflow.run, stream_workflow_id(partition))
    try:
        stats = await handle.query(AlertStreamWorkflow.stats, rpc_timeout=RPC_TIMEOUT)
        quarantined = await handle.query(AlertStreamWorkflow.quarantine, rpc_timeout=RPC_TIMEOUT)
        gone = await handle.query(AlertStreamWorkflow.gone, rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise IncidentNotFound(
                f"no alert stream for partition {partition!r}: no alert has arrived there"
            ) from err
        raise TemporalUnavailable(f"cannot read the alert stream: {err.message}") from err
    return stats, quarantined, gone


async def take_over(
    client: Client,
    incident_id: str,
    update: Any,
    request: Any,
) -> TimelineEvent:
    """Send a person's takeover update (pause, override, retry...); refusals become one line."""
    handle, status = await _handle(client, incident_id)
    if status != WorkflowExecutionStatus.RUNNING:
        raise DecisionRefused(
            f"{incident_id} has already ended; see `incidentflow show {incident_id}`"
        )
    try:
        event: TimelineEvent = await handle.execute_update(update, request, rpc_timeout=RPC_TIMEOUT)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise DecisionRefused(getattr(cause, "message", None) or str(cause or err)) from err
    except RPCError as err:
        raise TemporalUnavailable(f"not delivered ({err.message}): is a worker running?") from err
    return event
