"""AlertStreamWorkflow: the long-lived intake of one partition's alerts.

Deterministic orchestration only. It receives alert batches by signal (the webhook uses
signal-with-start), runs detection and correlation over each batch as activities, starts one
IncidentWorkflow per new incident and signals alerts that join an open one. It continues as new
before Temporal's per-run limits, carrying its open-incident index and unprocessed batches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.correlation import CorrelationActivities
    from activities.detection import DetectionActivities
    from incidentflow.models import (
        AlertBatch,
        CorrelationInput,
        CorrelationResult,
        Detection,
        Incident,
        IncidentClosed,
        IncidentInput,
        OpenIncident,
        StreamInput,
    )
    from incidentflow.search import SERVICE_KEY, SEVERITY_KEY, STATE_KEY
    from workflows import policies
    from workflows.incident import IncidentWorkflow
    from workflows.names import ALERTS_SIGNAL, INCIDENT_CLOSED_SIGNAL

# Batch ids remembered to drop a redelivered batch; old ones age out (idempotency at the
# alert level is correlation's job, by fingerprint).
SEEN_BATCHES_KEPT = 2_000
# Temporal caps a run at 10,000 signals; hand over well before.
MAX_SIGNALS_PER_RUN = 9_000


def _acknowledge(child: asyncio.Future[Any]) -> None:
    if not child.cancelled() and child.exception() is not None:
        workflow.logger.info("incident workflow ended: %s", child.exception())


@workflow.defn(name="AlertStreamWorkflow")
class AlertStreamWorkflow:
    """One per partition (`alerts-<environment>`): batches in, incidents out."""

    @workflow.init
    def __init__(self, inp: StreamInput) -> None:
        self._inp = inp
        self._pending: list[AlertBatch] = list(inp.pending)
        self._seen: list[str] = list(inp.seen_batches)
        self._seen_set: set[str] = set(self._seen)
        self._open: dict[str, OpenIncident] = {o.id: o for o in inp.open_incidents}
        self._signals = 0
        self._processed_batches = 0

    @workflow.signal(name=ALERTS_SIGNAL)
    def alerts(self, batch: AlertBatch) -> None:
        """A batch accepted at the edge; a redelivered batch id is ignored."""
        self._signals += 1
        if batch.batch_id in self._seen_set:
            workflow.logger.info("batch %s already received; ignoring", batch.batch_id)
            return
        self._remember(batch.batch_id)
        self._pending.append(batch)

    @workflow.signal(name=INCIDENT_CLOSED_SIGNAL)
    def incident_closed(self, msg: IncidentClosed) -> None:
        """An incident finished: new alerts for its services open a new incident."""
        self._signals += 1
        self._open.pop(msg.incident_id, None)

    @workflow.query(name="open_incidents")
    def open_incidents(self) -> list[OpenIncident]:
        """The open-incident index correlation joins new alerts against."""
        return list(self._open.values())

    @workflow.query(name="pending_batches")
    def pending_batches(self) -> int:
        """Batches received and not yet processed."""
        return len(self._pending)

    @workflow.run
    async def run(self, inp: StreamInput) -> None:
        """Process batches forever, handing over to a new run before the history limits."""
        while True:
            await workflow.wait_condition(lambda: bool(self._pending) or self._should_hand_over())
            if self._pending:
                batch = self._take_pending()
                await self._process(batch)
                self._processed_batches += 1
            if self._should_hand_over():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.logger.info(
                    "continuing as new after %d batches, carrying %d open incidents and %d "
                    "pending batches",
                    self._processed_batches,
                    len(self._open),
                    len(self._pending),
                )
                workflow.continue_as_new(
                    inp.model_copy(
                        update={
                            "open_incidents": list(self._open.values()),
                            "pending": list(self._pending),
                            "seen_batches": list(self._seen),
                        }
                    )
                )

    def _take_pending(self) -> AlertBatch:
        """Every batch waiting now, merged, so a burst is correlated together."""
        batches, self._pending = self._pending, []
        if len(batches) == 1:
            return batches[0]
        return AlertBatch(
            batch_id="+".join(b.batch_id for b in batches),
            environment=batches[0].environment,
            received_at=batches[0].received_at,
            alerts=[a for b in batches for a in b.alerts],
        )

    async def _process(self, batch: AlertBatch) -> None:
        detections = await workflow.execute_activity_method(
            DetectionActivities.detect,
            batch,
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary=f"detect {len(batch.alerts)} alert(s)",
        )
        correlation = await workflow.execute_activity_method(
            CorrelationActivities.correlate,
            CorrelationInput(
                environment=self._inp.environment,
                detections=detections.detections,
                open_incidents=list(self._open.values()),
            ),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary=f"correlate against {len(self._open)} open incident(s)",
        )
        for incident in correlation.new_incidents:
            await self._open_incident(incident, correlation, detections.detections)
        for update in correlation.updates:
            known = self._open.get(update.incident_id)
            if known is None:
                continue
            fingerprints = sorted({*known.fingerprints, *(a.fingerprint for a in update.alerts)})
            self._open[update.incident_id] = known.model_copy(update={"fingerprints": fingerprints})
            handle = workflow.get_external_workflow_handle_for(
                IncidentWorkflow.run, update.incident_id
            )
            await handle.signal(IncidentWorkflow.alerts_joined, update)

    async def _open_incident(
        self, incident: Incident, correlation: CorrelationResult, detections: list[Detection]
    ) -> None:
        fingerprints = {a.fingerprint for a in incident.alerts}
        # Only this incident's slice of the batch: a storm must not copy every alert into
        # every incident's input.
        inp = IncidentInput(
            incident=incident,
            detections=[d for d in detections if d.alert.fingerprint in fingerprints],
            correlation=CorrelationResult(
                new_incidents=[incident],
                dropped=[d for d in correlation.dropped if d.alert.fingerprint in fingerprints],
            ),
            stream_workflow_id=workflow.info().workflow_id,
            approval_timeout_seconds=self._inp.approval_timeout_seconds,
            agent_queue=self._inp.agent_queue,
            remediation_queue=self._inp.remediation_queue,
        )
        try:
            child = await workflow.start_child_workflow(
                IncidentWorkflow.run,
                inp,
                id=incident.id,
                task_queue=self._inp.workflow_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"{incident.severity.value} · {incident.title}",
                static_details=(
                    f"Incident {incident.id} in {incident.environment}: "
                    f"{len(incident.alerts)} alert(s), origin "
                    f"{incident.origin_service or 'unknown'}, services "
                    f"{', '.join(incident.services)}"
                ),
                memo={"title": incident.title},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(STATE_KEY, "open"),
                        SearchAttributePair(SEVERITY_KEY, incident.severity.value),
                        SearchAttributePair(SERVICE_KEY, incident.origin_service or "unknown"),
                    ]
                ),
            )
            # The incident reports its own end by signal (that survives our continue-as-new);
            # its completion here is only acknowledged, so a failed child warns nobody twice.
            child.add_done_callback(_acknowledge)
        except WorkflowAlreadyStartedError:
            # A retried batch after continue-as-new can re-propose an incident we started.
            workflow.logger.info("incident %s already started", incident.id)
        self._open[incident.id] = OpenIncident(
            id=incident.id,
            services=incident.services,
            fingerprints=sorted(fingerprints),
            opened_at=incident.opened_at,
            origin_service=incident.origin_service,
        )

    def _remember(self, batch_id: str) -> None:
        self._seen.append(batch_id)
        self._seen_set.add(batch_id)
        if len(self._seen) > SEEN_BATCHES_KEPT:
            old = self._seen.pop(0)
            self._seen_set.discard(old)

    def _should_hand_over(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._inp.continue_as_new_after_events
            or self._signals >= MAX_SIGNALS_PER_RUN
        )
