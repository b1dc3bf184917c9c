"""The decision API's view of incidents in Temporal: read a record, send a person's update.

Updates and the query are named as the incident workflow registers them, so the ingest process
does not import workflow code. Errors come back as IncidentFlowError subclasses the API maps to
status codes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from incidentflow.errors import DecisionRefused, IncidentNotFound, TemporalUnavailable
from incidentflow.models import Approval, IncidentRecord, TimelineEvent

# A person waits on these; a dead worker is reported rather than waited on.
RPC_TIMEOUT = timedelta(seconds=15)
# Error types the incident workflow raises after recording a refused attempt.
REFUSAL_TYPES = frozenset({"ApprovalRefused", "RejectRefused", "TakeoverRefused"})


class Forbidden(DecisionRefused):
    """The workflow recorded the attempt and refused it (identity, role, signature, policy)."""


class IncidentDesk(Protocol):
    """What the decision API asks of incidents."""

    async def record(self, incident_id: str) -> IncidentRecord: ...

    async def send(self, incident_id: str, verb: str, request: BaseModel) -> BaseModel: ...


class TemporalDesk:
    """IncidentDesk over a Temporal client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def _status(self, incident_id: str) -> WorkflowExecutionStatus | None:
        handle = self._client.get_workflow_handle(incident_id)
        try:
            desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise IncidentNotFound(f"no incident {incident_id}") from err
            raise TemporalUnavailable(f"cannot read {incident_id}: {err.message}") from err
        if desc.workflow_type != "IncidentWorkflow":
            raise IncidentNotFound(f"no incident {incident_id}")
        return desc.status

    async def record(self, incident_id: str) -> IncidentRecord:
        """The record: the result once finished, the `record` query while it runs."""
        status = await self._status(incident_id)
        handle = self._client.get_workflow_handle(incident_id, result_type=IncidentRecord)
        try:
            if status == WorkflowExecutionStatus.COMPLETED:
                value = await handle.result(rpc_timeout=RPC_TIMEOUT)
            elif status == WorkflowExecutionStatus.RUNNING:
                value = await handle.query(
                    "record", result_type=IncidentRecord, rpc_timeout=RPC_TIMEOUT
                )
            else:
                raise IncidentNotFound(
                    f"{incident_id} ended as {status.name.lower() if status else 'unknown'}"
                )
            return IncidentRecord.model_validate(value)
        except RPCError as err:
            raise TemporalUnavailable(
                f"no worker answered for {incident_id}: {err.message}"
            ) from err

    async def send(self, incident_id: str, verb: str, request: BaseModel) -> BaseModel:
        """Run the `verb` update; a recorded refusal is Forbidden, an invalid one refused."""
        status = await self._status(incident_id)
        if status != WorkflowExecutionStatus.RUNNING:
            raise DecisionRefused(f"{incident_id} has already ended")
        handle = self._client.get_workflow_handle(incident_id)
        result_type: type[BaseModel] = Approval if verb in ("approve", "reject") else TimelineEvent
        try:
            result: BaseModel = await handle.execute_update(
                verb, request, result_type=result_type, rpc_timeout=RPC_TIMEOUT
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            message = getattr(cause, "message", None) or str(cause or err)
            if isinstance(cause, ApplicationError) and cause.type in REFUSAL_TYPES:
                raise Forbidden(message) from err
            raise DecisionRefused(message) from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise DecisionRefused(f"{incident_id} ended before the decision arrived") from err
            raise TemporalUnavailable(
                f"not delivered ({err.message}): is a worker running?"
            ) from err
        return result
