"""IncidentClient: how the CLI and eval talk to incidents (list, read, decide, take over).

It addresses the workflows by the names they register (`IncidentWorkflow`, the `record`
query, the `approve` update...), never by importing workflow code: only `cli/`, `ingest/`
and `eval/` may import `workflows/`, `activities/` or `worker.py`
(tests/unit/test_layers.py), and tests/unit/test_incident_client.py checks every name here
against the workflow classes. Errors come back as one actionable IncidentFlowError line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
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

# A query or update waits for a worker; a dead worker should be reported, not waited on forever.
RPC_TIMEOUT = timedelta(seconds=15)

# The names the workflows register (checked against them by a test).
INCIDENT_WORKFLOW = "IncidentWorkflow"
STREAM_WORKFLOW = "AlertStreamWorkflow"
RECORD_QUERY = "record"
DECISION_UPDATES = ("approve", "reject")
TAKEOVER_UPDATES = (
    "pause",
    "resume",
    "override",
    "retry",
    "skip",
    "assign",
    "note",
    "escalate",
    "resolve",
    "refresh",
)
STREAM_QUERIES = ("stats", "open_incidents", "quarantine", "gone")
STREAM_ID_PREFIX = "alerts-"

R = TypeVar("R")


def stream_id(partition: str) -> str:
    """The alert stream workflow's id for one partition (workflows/names.py makes the same)."""
    return f"{STREAM_ID_PREFIX}{partition}"


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


class IncidentClient:
    """Incidents and alert streams over one Temporal client."""

    def __init__(self, client: Client) -> None:
        self.temporal = client

    async def list_incidents(self, *, limit: int = 50) -> list[IncidentRow]:
        """Incidents newest first, from Temporal visibility (no worker needed)."""
        rows: list[IncidentRow] = []
        try:
            async for wf in self.temporal.list_workflows(
                f"WorkflowType = '{INCIDENT_WORKFLOW}'", limit=limit, rpc_timeout=RPC_TIMEOUT
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

    async def handle(
        self, incident_id: str
    ) -> tuple[WorkflowHandle[Any, IncidentRecord], WorkflowExecutionStatus | None]:
        """The incident's handle and status; an unknown id is IncidentNotFound."""
        handle = self.temporal.get_workflow_handle(incident_id, result_type=IncidentRecord)
        try:
            desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise IncidentNotFound(
                    f"no incident {incident_id}: list them with `incidentflow incidents`"
                ) from err
            raise TemporalUnavailable(f"cannot read {incident_id}: {err.message}") from err
        if desc.workflow_type != INCIDENT_WORKFLOW:
            raise IncidentNotFound(f"no incident {incident_id}: it is a {desc.workflow_type}")
        return handle, desc.status

    async def record(self, incident_id: str) -> IncidentRecord:
        """The incident's full record: its result when finished, a query while it runs."""
        handle, status = await self.handle(incident_id)
        if status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result(rpc_timeout=RPC_TIMEOUT)
        if status != WorkflowExecutionStatus.RUNNING:
            raise IncidentNotFound(
                f"{incident_id} ended as {status.name.lower() if status else 'unknown'}; "
                "its history is in the Temporal UI"
            )
        try:
            record: IncidentRecord = await handle.query(
                RECORD_QUERY, result_type=IncidentRecord, rpc_timeout=RPC_TIMEOUT
            )
        except WorkflowQueryFailedError as err:
            raise TemporalUnavailable(f"{incident_id} could not answer: {err}") from err
        except RPCError as err:
            raise TemporalUnavailable(
                f"no worker answered for {incident_id} ({err.message}): is `incidentflow up` "
                "or `python worker.py` running?"
            ) from err
        return record

    async def decide(
        self, incident_id: str, *, approve: bool, request: DecisionRequest
    ) -> Approval:
        """Approve or reject through the validated update; refusals become DecisionRefused."""
        handle, status = await self.handle(incident_id)
        if status == WorkflowExecutionStatus.COMPLETED:
            record = await handle.result(rpc_timeout=RPC_TIMEOUT)
            if record.state is IncidentState.RESOLVED:
                raise DecisionRefused(
                    f"{incident_id} resolved on its own: every alert resolved before approval, "
                    "so its plan was withdrawn and nothing will run"
                )
        if request.plan_id is None and request.plan_digest is None and request.proof is None:
            # A caller that named no plan decides on the one pending now, read just before.
            plan = (await self.record(incident_id)).plan
            if plan is not None:
                request = request.model_copy(
                    update={"plan_id": plan.id, "plan_digest": plan.digest}
                )
        verb = DECISION_UPDATES[0] if approve else DECISION_UPDATES[1]
        return await self._update(handle, status, incident_id, verb, request, Approval)

    async def take_over(self, incident_id: str, verb: str, request: BaseModel) -> TimelineEvent:
        """A person's takeover update (pause, override, retry...); refusals become one line."""
        if verb not in TAKEOVER_UPDATES:
            raise DecisionRefused(f"no takeover {verb!r}: use one of {', '.join(TAKEOVER_UPDATES)}")
        handle, status = await self.handle(incident_id)
        return await self._update(handle, status, incident_id, verb, request, TimelineEvent)

    async def _update(
        self,
        handle: WorkflowHandle[Any, IncidentRecord],
        status: WorkflowExecutionStatus | None,
        incident_id: str,
        verb: str,
        request: BaseModel,
        result_type: type[R],
    ) -> R:
        if status != WorkflowExecutionStatus.RUNNING:
            raise DecisionRefused(
                f"{incident_id} has already ended; see `incidentflow show {incident_id}`"
            )
        try:
            result: R = await handle.execute_update(
                verb, request, result_type=result_type, rpc_timeout=RPC_TIMEOUT
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise DecisionRefused(getattr(cause, "message", None) or str(cause or err)) from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise DecisionRefused(f"{incident_id} ended before the decision arrived") from err
            raise TemporalUnavailable(
                f"not delivered ({err.message}): is a worker running?"
            ) from err
        return result

    async def open_incidents(self, partition: str) -> list[OpenIncident]:
        """The stream's open-incident index for a partition (empty if it never started)."""
        try:
            found: list[OpenIncident] = await self._stream_query(
                partition, "open_incidents", list[OpenIncident]
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return []
            raise TemporalUnavailable(f"cannot read the alert stream: {err.message}") from err
        return found

    async def stream_record(
        self, partition: str
    ) -> tuple[StreamStats, list[QuarantinedAlerts], list[GoneIncident]]:
        """A stream's counters, the rounds it quarantined and the incidents it found ended."""
        try:
            stats: StreamStats = await self._stream_query(partition, "stats", StreamStats)
            held: list[QuarantinedAlerts] = await self._stream_query(
                partition, "quarantine", list[QuarantinedAlerts]
            )
            gone: list[GoneIncident] = await self._stream_query(
                partition, "gone", list[GoneIncident]
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise IncidentNotFound(
                    f"no alert stream for partition {partition!r}: no alert has arrived there"
                ) from err
            raise TemporalUnavailable(f"cannot read the alert stream: {err.message}") from err
        return stats, held, gone

    async def _stream_query(self, partition: str, name: str, result_type: Any) -> Any:
        handle = self.temporal.get_workflow_handle(stream_id(partition))
        return await handle.query(name, result_type=result_type, rpc_timeout=RPC_TIMEOUT)
